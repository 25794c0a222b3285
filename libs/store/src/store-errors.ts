/**
 * How a failed log write is to be read. Postgres answers a refused statement with a SQLSTATE and
 * rolls it back; a lost connection leaves the outcome unknown (the commit may have landed before its
 * acknowledgement was lost). The first kind may be retried op by op; the second must be verified.
 */

/** SQLSTATE classes and codes that say "try again later": nothing about the op itself is wrong. */
const TRANSIENT_SQLSTATE = /^(08|53|57P|40001|40P01|55P03|58)/;
/** Node and pg errors of a connection that broke, never came up, or went silent (pg's `query_timeout`). */
const CONNECTION_MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|ECONN|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|socket hang up/i;

/**
 * A database closed to new connections for a while (`ALTER DATABASE ... ALLOW_CONNECTIONS false`,
 * during maintenance): its SQLSTATE, 55000, also names errors that retrying cannot fix.
 */
const CLOSED_DATABASE = /is not currently accepting connections/;

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** True when retrying the same write later may succeed (connection lost, server restarting, overloaded, deadlock). */
export function isTransientStoreError(error: unknown): boolean {
  const state = sqlState(error);
  if (state === '55000') return CLOSED_DATABASE.test(String((error as Error).message));
  if (state) return TRANSIENT_SQLSTATE.test(state);
  return CONNECTION_MESSAGES.test(String((error as Error | null)?.message ?? error));
}

/**
 * True when Postgres itself refused the statement, so nothing of it was committed. False when the
 * connection failed: the statement may have committed before the answer was lost.
 */
export function isRolledBack(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && !/^(08|57P)/.test(state);
}

/**
 * A log write that retrying cannot fix (Postgres refused the data itself: an invalid value, a
 * broken constraint). Carries the SQLSTATE and Postgres' message.
 */
export class PermanentStoreError extends Error {
  constructor(
    readonly sqlState: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'PermanentStoreError';
  }

  static of(error: unknown): PermanentStoreError {
    return new PermanentStoreError(sqlState(error), String((error as Error | null)?.message ?? error));
  }
}
