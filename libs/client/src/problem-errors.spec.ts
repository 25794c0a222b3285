import * as contracts from './contracts';
import { CoordinatorError, TransactionBusyError, ValidationError } from './contracts';
import { CoordinatorUnreachableError, errorFromAnswer, errorFromProblem, isProblemError } from './problem-errors';

type ErrorClass = new (...args: unknown[]) => CoordinatorError;

/** Every error class libs/contracts exports, built the way the coordinator would throw it. */
const CLASSES = (Object.values(contracts) as unknown[]).filter(
  (value): value is ErrorClass =>
    typeof value === 'function' && value.prototype instanceof CoordinatorError && value !== CoordinatorError,
);

describe('errorFromProblem', () => {
  it('knows every error class of libs/contracts (a new one fails here until it is mapped)', () => {
    expect(CLASSES.length).toBeGreaterThanOrEqual(15);
    for (const Class of CLASSES) {
      const thrown = new Class('x', [{ field: 'f', rule: 'r' }]);
      const problem = { type: `/problems/${thrown.code}`, title: 'T', status: 409, detail: thrown.message };
      const mapped = errorFromProblem(problem);
      // subclasses that share a code come back as the class that owns the code
      const owner = CLASSES.find(
        (c) => new c('x', []).code === thrown.code && !(c.prototype instanceof ValidationError),
      );
      expect([Class.name, mapped.constructor.name]).toEqual([Class.name, (owner ?? Class).name]);
      expect(mapped).toBeInstanceOf(owner ?? Class);
      expect(mapped.code).toBe(thrown.code);
      expect(mapped.retryable).toBe(thrown.retryable);
      expect(mapped.message).toBe(thrown.message);
      expect(mapped.name).toBe((owner ?? Class).name);
    }
  });

  it('keeps the status, detail and field errors, and puts the detail in the message and the stack', () => {
    const errors = [{ field: 'branches.0.participant', rule: 'participant "nope" is not registered' }];
    const e = errorFromProblem({
      type: '/problems/validation_failed',
      title: 'Unprocessable Content',
      status: 422,
      detail: 'unknown participant(s): nope',
      errors,
    });
    expect(e).toBeInstanceOf(ValidationError);
    expect(e).toMatchObject({ status: 422, detail: 'unknown participant(s): nope', errors });
    expect(e.message).toBe('unknown participant(s): nope');
    expect(e.stack?.split('\n')[0]).toBe('ValidationError: unknown participant(s): nope');
    expect(isProblemError(e)).toBe(true);
    expect(e.problem.title).toBe('Unprocessable Content');
  });

  it('gives an answer of an unknown type a plain CoordinatorError, retryable only for 502/503/504', () => {
    const e = errorFromProblem({ type: '/problems/http-405', title: 'Method Not Allowed', status: 405, detail: 'no' });
    expect(e.constructor).toBe(CoordinatorError);
    expect([e.code, e.retryable, e.status, e.errors]).toEqual(['http-405', false, 405, []]);
    expect(errorFromAnswer(503, null, '').retryable).toBe(true);
    expect(errorFromAnswer(502, '<html>bad gateway</html>', '<html>bad gateway</html>')).toMatchObject({
      code: 'http-502',
      retryable: true,
      detail: '<html>bad gateway</html>',
    });
    expect(errorFromAnswer(400, 'oops', 'oops').retryable).toBe(false);
  });

  it('flags exactly the errors worth retrying', () => {
    const retryable = CLASSES.filter((C) => new C('x', []).retryable).map((C) => C.name);
    expect(retryable.sort()).toEqual(['IdempotencyKeyInFlightError', 'StoreUnavailableError', 'TransactionBusyError']);
    expect(
      errorFromProblem({ type: '/problems/transaction_busy', title: '', status: 409, detail: 'busy' }),
    ).toBeInstanceOf(TransactionBusyError);
    expect(new CoordinatorUnreachableError('fetch failed').retryable).toBe(true);
    expect(isProblemError(new CoordinatorUnreachableError('fetch failed'))).toBe(false);
  });
});
