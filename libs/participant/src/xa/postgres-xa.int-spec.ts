// the build config (tsconfig.build.json) compiles *.int-spec.ts with types ["node"] only
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { Phase } from '#contracts';
import { HandlerRegistry } from '../handler-registry';
import { PhaseDispatcher } from '../phase-dispatcher';
import { Barrier } from '../barrier';
import { BusinessRejection } from '../business-rejection';
import { PostgresXa, XaOutcomeConflictError, type XaBranch } from './postgres-xa';
import { registerXaTwoPhase } from './xa-handlers';
import { startXaPostgres, type XaPostgres } from './xa-postgres-harness';

/**
 * A 2PC transfer between two databases of one server (its own: the shared one cannot prepare),
 * each branch a Postgres prepared transaction through {@link PostgresXa}.
 */
describe('PostgresXa (embedded Postgres with max_prepared_transactions)', () => {
  let server: XaPostgres;
  let bankA: Pool;
  let bankB: Pool;
  let xaA: PostgresXa;
  let xaB: PostgresXa;

  beforeAll(async () => {
    server = await startXaPostgres();
    bankA = new Pool({ connectionString: await server.createDatabase('bank_a'), max: 6 });
    bankB = new Pool({ connectionString: await server.createDatabase('bank_b'), max: 6 });
    for (const pool of [bankA, bankB]) {
      pool.on('error', () => undefined);
      await pool.query('CREATE TABLE accounts (id text PRIMARY KEY, balance integer NOT NULL)');
    }
    xaA = new PostgresXa({ pool: bankA });
    xaB = new PostgresXa({ pool: bankB });
    await xaA.install();
    await xaB.install();
  }, 120_000);

  afterAll(async () => {
    // a failed test may leave branches prepared: they would keep their locks, so resolve them first
    for (const pool of [bankA, bankB]) {
      const { rows } = await pool.query<{ gid: string }>(
        'SELECT gid FROM pg_prepared_xacts WHERE database = current_database()',
      );
      for (const { gid } of rows) await pool.query(`ROLLBACK PREPARED '${gid}'`);
      await pool.end();
    }
    await server?.stop();
  });

  async function account(pool: Pool, balance: number): Promise<string> {
    const id = randomUUID();
    await pool.query('INSERT INTO accounts (id, balance) VALUES ($1, $2)', [id, balance]);
    return id;
  }

  async function balanceOf(pool: Pool, id: string): Promise<number> {
    const { rows } = await pool.query<{ balance: number }>('SELECT balance FROM accounts WHERE id = $1', [id]);
    return rows[0].balance;
  }

  /** Whether another connection can lock the row now (`FOR UPDATE NOWAIT`), or finds it locked. */
  async function lockState(pool: Pool, id: string): Promise<'free' | 'locked'> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE NOWAIT', [id]);
      return 'free';
    } catch (error) {
      if ((error as { code?: string }).code === '55P03') return 'locked'; // lock_not_available
      throw error;
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  }

  /** Prepares `delta` on `id`; says no when the balance would go below zero. */
  function move(xa: PostgresXa, branch: XaBranch, id: string, delta: number) {
    return xa.prepare(branch, async (client) => {
      const { rows } = await client.query<{ balance: number }>(
        'UPDATE accounts SET balance = balance + $2 WHERE id = $1 RETURNING balance',
        [id, delta],
      );
      if (rows[0].balance < 0) throw new BusinessRejection('insufficient funds');
      return rows[0].balance;
    });
  }

  function branches() {
    const transactionId = randomUUID();
    return { debit: { transactionId, branchId: 'debit' }, credit: { transactionId, branchId: 'credit' } };
  }

  it('holds the debited row locked between prepare and commit, then moves the money once', async () => {
    const [from, to] = [await account(bankA, 100), await account(bankB, 0)];
    const { debit, credit } = branches();

    expect(await move(xaA, debit, from, -30)).toEqual({ kind: 'applied', value: 70 });
    expect(await move(xaB, credit, to, 30)).toEqual({ kind: 'applied', value: 30 });
    expect(await move(xaA, debit, from, -30)).toEqual({ kind: 'duplicate' });
    expect(await lockState(bankA, from)).toBe('locked');
    expect(await lockState(bankB, to)).toBe('locked');
    // prepared, not committed: others still read the old balances
    expect([await balanceOf(bankA, from), await balanceOf(bankB, to)]).toEqual([100, 0]);

    expect(await xaA.commit(debit)).toEqual({ kind: 'applied', value: undefined });
    expect(await xaB.commit(credit)).toEqual({ kind: 'applied', value: undefined });
    expect(await xaA.commit(debit)).toEqual({ kind: 'duplicate' });
    expect(await move(xaA, debit, from, -30)).toEqual({ kind: 'duplicate' });
    expect([await lockState(bankA, from), await lockState(bankB, to)]).toEqual(['free', 'free']);
    expect([await balanceOf(bankA, from), await balanceOf(bankB, to)]).toEqual([70, 30]);
    await expect(xaA.rollback(debit)).rejects.toBeInstanceOf(XaOutcomeConflictError);
  });

  it('rolls back: releases the lock, changes nothing, and refuses a late prepare', async () => {
    const [from, to] = [await account(bankA, 100), await account(bankB, 0)];
    const { debit, credit } = branches();

    expect((await move(xaA, debit, from, -30)).kind).toBe('applied');
    expect(await lockState(bankA, from)).toBe('locked');
    expect(await xaA.rollback(debit)).toEqual({ kind: 'applied', value: undefined });
    expect(await xaA.rollback(debit)).toEqual({ kind: 'null-rollback' });
    // the credit's prepare never arrived before its rollback: a null rollback, and it is fenced off
    expect(await xaB.rollback(credit)).toEqual({ kind: 'null-rollback' });
    expect(await move(xaB, credit, to, 30)).toEqual({ kind: 'refused' });
    expect(await move(xaA, debit, from, -30)).toEqual({ kind: 'refused' });
    expect([await lockState(bankA, from), await lockState(bankB, to)]).toEqual(['free', 'free']);
    expect([await balanceOf(bankA, from), await balanceOf(bankB, to)]).toEqual([100, 0]);
    expect(await xaA.inDoubt()).toEqual([]);
    await expect(xaB.commit(credit)).rejects.toBeInstanceOf(XaOutcomeConflictError);
  });

  it('keeps a no final: nothing prepared, the rollback is a null one', async () => {
    const from = await account(bankA, 10);
    const { debit } = branches();
    expect(await move(xaA, debit, from, -30)).toMatchObject({ kind: 'rejected', reason: 'insufficient funds' });
    expect((await move(xaA, debit, from, -5)).kind).toBe('rejected');
    expect(await xaA.rollback(debit)).toEqual({ kind: 'null-rollback' });
    expect(await balanceOf(bankA, from)).toBe(10);
    expect(await lockState(bankA, from)).toBe('free');
  });

  it('prepares nothing and says so when a statement failed inside the work, its error caught', async () => {
    const from = await account(bankA, 100);
    const { debit } = branches();
    // Postgres answers PREPARE TRANSACTION of a failed transaction with ROLLBACK, not an error
    const caught = xaA.prepare(debit, async (client) => {
      await client.query('UPDATE accounts SET balance = balance - 30 WHERE id = $1', [from]);
      await client.query('INSERT INTO accounts (id, balance) VALUES ($1, 0)', [from]).catch(() => undefined);
      return 'done';
    });
    await expect(caught).rejects.toThrow(/rolled back/);
    expect(await xaA.inDoubt()).toEqual([]);
    expect(await balanceOf(bankA, from)).toBe(100);
    // nothing was recorded: the retry runs the work again and prepares it
    expect(await move(xaA, debit, from, -30)).toEqual({ kind: 'applied', value: 70 });
    expect(await xaA.commit(debit)).toEqual({ kind: 'applied', value: undefined });
    expect(await balanceOf(bankA, from)).toBe(70);
  });

  it('serializes concurrent deliveries: one prepare applies, a racing rollback wins or rolls it back', async () => {
    const from = await account(bankA, 100);
    const { debit } = branches();
    const results = await Promise.all([
      move(xaA, debit, from, -10),
      move(xaA, debit, from, -10),
      move(xaA, debit, from, -10),
    ]);
    expect(results.filter((r) => r.kind === 'applied')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'duplicate')).toHaveLength(2);
    expect(await xaA.commit(debit)).toEqual({ kind: 'applied', value: undefined });
    // (while `debit` was prepared, another prepare on that row would wait for its lock, and so would its rollback)
    const again = branches().debit;
    const [prepared, rolledBack] = await Promise.all([move(xaA, again, from, -10), xaA.rollback(again)]);
    // either the prepare landed first and was rolled back, or the rollback fenced it off
    expect([[prepared.kind, rolledBack.kind]]).toContainEqual(
      prepared.kind === 'applied' ? ['applied', 'applied'] : ['refused', 'null-rollback'],
    );
    expect(await balanceOf(bankA, from)).toBe(90);
    expect(await lockState(bankA, from)).toBe('free');
    expect(await xaA.inDoubt()).toEqual([]);
  });

  it('serves the three 2PC routes through the dispatcher, fenced by its own log', async () => {
    const dataSource = new DataSource({ type: 'postgres', url: server.urlOf('bank_a'), poolSize: 4 });
    await dataSource.initialize();
    try {
      const registry = registerXaTwoPhase(new HandlerRegistry(), xaA, async ({ payload }, client) => {
        const p = payload as { id: string; delta: number; failCaught?: boolean };
        await client.query('UPDATE accounts SET balance = balance + $2 WHERE id = $1', [p.id, p.delta]);
        if (p.failCaught) await client.query('SELECT 1/0').catch(() => undefined);
      });
      const dispatcher = new PhaseDispatcher({ registry, dataSource, barrier: new Barrier('xa_barrier') });
      await new Barrier('xa_barrier').install(dataSource);
      const from = await account(bankA, 100);
      const send = (phase: Phase, transactionId: string, failCaught = false) =>
        dispatcher.dispatch(
          { phase },
          {
            body: { transactionId, branchId: 'debit', payload: { id: from, delta: -25, failCaught } },
            rawBody: '',
            headers: {},
          },
        );
      const committed = randomUUID();
      // nothing prepared: not a yes, and nothing kept by the barrier, so the retry prepares
      expect((await send(Phase.Prepare, committed, true)).status).toBe(500);
      expect(await lockState(bankA, from)).toBe('free');
      expect((await send(Phase.Prepare, committed)).status).toBe(200);
      expect(await lockState(bankA, from)).toBe('locked');
      expect((await send(Phase.Commit, committed)).status).toBe(200);
      expect(await balanceOf(bankA, from)).toBe(75);
      const aborted = randomUUID();
      expect((await send(Phase.Rollback, aborted)).body).toEqual({ kind: 'applied', result: { xa: 'null-rollback' } });
      expect((await send(Phase.Prepare, aborted)).status).toBe(409);
      expect(await balanceOf(bankA, from)).toBe(75);
      expect(await lockState(bankA, from)).toBe('free');

      // a participant killed after PREPARE TRANSACTION, before anything else of the delivery
      // committed: its rollback (the coordinator gave up) finds the prepared transaction and ends it.
      // Behind the barrier it was a null one, and the prepared transaction kept its locks for good
      const crashed = randomUUID();
      const prepared = await xaA.prepare({ transactionId: crashed, branchId: 'debit' }, (client) =>
        client.query('UPDATE accounts SET balance = balance - 25 WHERE id = $1', [from]),
      );
      expect(prepared.kind).toBe('applied');
      expect(await lockState(bankA, from)).toBe('locked');
      expect((await send(Phase.Rollback, crashed)).status).toBe(200);
      expect(await lockState(bankA, from)).toBe('free');
      expect(await xaA.inDoubt()).toEqual([]);
      expect(await balanceOf(bankA, from)).toBe(75);
    } finally {
      await dataSource.destroy();
    }
  });
});
