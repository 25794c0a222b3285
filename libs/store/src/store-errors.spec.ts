import { isRolledBack, isTransientStoreError } from './store-errors';

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('isTransientStoreError', () => {
  it('takes a lost or refused connection, a restarting or overloaded server, a deadlock as worth retrying', () => {
    for (const [code, message] of [
      ['08006', 'connection failure'],
      ['57P03', 'the database system is starting up'],
      ['53300', 'sorry, too many clients already'],
      ['40P01', 'deadlock detected'],
    ]) {
      expect([code, isTransientStoreError(pgError(code, message))]).toEqual([code, true]);
    }
    expect(isTransientStoreError(new Error('connect ECONNREFUSED 127.0.0.1:5432'))).toBe(true);
  });

  it('takes a database closed to connections for a while (ALLOW_CONNECTIONS false) as worth retrying', () => {
    const closed = pgError('55000', 'database "txc" is not currently accepting connections');
    expect(isTransientStoreError(closed)).toBe(true);
    expect(isRolledBack(closed)).toBe(true);
  });

  it('takes data Postgres refused, and any other object-state error, as final', () => {
    expect(isTransientStoreError(pgError('23505', 'duplicate key value violates unique constraint'))).toBe(false);
    expect(isTransientStoreError(pgError('55000', 'prepared transaction belongs to another database'))).toBe(false);
  });
});
