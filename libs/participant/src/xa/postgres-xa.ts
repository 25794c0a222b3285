import type { Pool, PoolClient } from 'pg';
import { withPooledClient } from '../local-transaction';
import { BusinessRejection } from '../business-rejection';
import { assertSafeGid, DEFAULT_GID_PREFIX, assertPrefix, xaGid } from './xa-gid';

/** The branch a prepared transaction belongs to. */
export interface XaBranch {
  transactionId: string;
  branchId: string;
}

/**
 * What one XA phase did.
 * - `applied`: prepare prepared the work now; commit committed it now; rollback rolled a prepared one back now.
 * - `duplicate`: that phase already took effect (still prepared, already committed, already rolled back).
 * - `null-rollback`: rollback of a branch that never prepared (or said no); it is fenced off from now on.
 * - `refused`: a prepare arriving after its rollback; nothing prepared.
 * - `rejected`: prepare's work threw {@link BusinessRejection}, now or at an earlier delivery; nothing prepared.
 */
export type XaResult<T> =
  | { kind: 'applied'; value: T }
  | { kind: 'duplicate' }
  | { kind: 'null-rollback' }
  | { kind: 'refused' }
  | { kind: 'rejected'; reason: string; details?: Record<string, unknown> };

/** What a {@link PostgresXa} needs. */
export interface PostgresXaOptions {
  /** The participant's own database; max_prepared_transactions must be above 0 there. */
  pool: Pool;
  /** First segment of every gid (default `txc`); give each participant sharing a server its own. */
  gidPrefix?: string;
  /** The outcome table, in the same database (default `txc_xa_log`). */
  table?: string;
  /** How long one wait for a branch's outcome row may block before looking again (default 100 ms). */
  lockTimeoutMs?: number;
  /** How many such waits before giving up with a retryable error (default 100). */
  maxLockWaits?: number;
}

/** A commit or rollback that contradicts what the branch already did (retryable: the caller must look). */
export class XaOutcomeConflictError extends Error {
  readonly retryable = true;
  constructor(
    readonly gid: string,
    message: string,
  ) {
    super(message);
    this.name = 'XaOutcomeConflictError';
  }
}

/** The outcome row's `outcome`. `committed` is written inside the prepared transaction, so it shows only once committed. */
type Outcome = 'committed' | 'rolled-back' | 'rejected';

const UNDEFINED_OBJECT = '42704'; // no prepared transaction with that gid
const LOCK_NOT_AVAILABLE = '55P03'; // lock_timeout elapsed
const TABLE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Real two-phase commit on Postgres prepared transactions (XA): prepare runs the handler's SQL in a
 * transaction on a connection of its own and ends it with `PREPARE TRANSACTION '<gid>'`, so its
 * writes and row locks survive the connection and a crash of either side until `COMMIT PREPARED` or
 * `ROLLBACK PREPARED`.
 *
 * Guarantees, for each branch, however often and in whatever order the phases arrive: the work is
 * prepared at most once and committed at most once; commit of a committed branch answers
 * `duplicate`; rollback of a branch that never prepared is a `null-rollback` and fences the branch,
 * so a prepare arriving after its rollback is `refused` and prepares nothing; a prepare's no is final.
 * The fence is one row per branch in {@link PostgresXaOptions.table}: the prepare writes `committed`
 * inside its own transaction, rollback writes `rolled-back` outside it, and the primary key makes the
 * two exclude each other.
 */
export class PostgresXa {
  readonly prefix: string;
  readonly table: string;
  private readonly lockTimeoutMs: number;
  private readonly maxLockWaits: number;

  constructor(private readonly options: PostgresXaOptions) {
    this.prefix = options.gidPrefix ?? DEFAULT_GID_PREFIX;
    this.table = options.table ?? 'txc_xa_log';
    assertPrefix(this.prefix);
    if (!TABLE.test(this.table)) throw new TypeError(`invalid XA table name: ${JSON.stringify(this.table)}`);
    this.lockTimeoutMs = options.lockTimeoutMs ?? 100;
    this.maxLockWaits = options.maxLockWaits ?? 100;
  }

  /** Creates the outcome table if missing; fails when the server cannot prepare transactions. */
  async install(): Promise<void> {
    const { rows } = await this.options.pool.query<{ max_prepared_transactions: string }>(
      'SHOW max_prepared_transactions',
    );
    if (Number(rows[0].max_prepared_transactions) < 1) {
      throw new Error('max_prepared_transactions is 0 on this server: set it above 0 (restart needed) to use XA');
    }
    await this.options.pool.query(`CREATE TABLE IF NOT EXISTS ${this.table} (
  gid text PRIMARY KEY,
  outcome text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
)`);
  }

  /** The gid of `branch` (see {@link xaGid}). */
  gidOf(branch: XaBranch): string {
    return xaGid(this.prefix, branch.transactionId, branch.branchId);
  }

  /**
   * Prepare: runs `work` on a dedicated client inside a transaction that it then PREPAREs. The
   * client goes back to the pool afterwards; the prepared transaction (and its locks) no longer
   * belong to it. A {@link BusinessRejection} from `work` rolls it back and is recorded as final.
   * Anything else thrown rolls back, records nothing and propagates (retry it); so does a statement
   * that failed inside `work` even if `work` caught its error (the transaction cannot be prepared).
   */
  async prepare<T>(branch: XaBranch, work: (client: PoolClient) => Promise<T>): Promise<XaResult<T>> {
    const gid = this.gidOf(branch);
    for (let wait = 0; wait < this.maxLockWaits; wait += 1) {
      if (await this.isPrepared(gid)) return { kind: 'duplicate' };
      const result = await this.withClient(async (client) => {
        await client.query('BEGIN');
        // the fence row first: it is what a concurrent rollback or duplicate prepare collides with
        const claim = await this.claim(client, gid, 'committed');
        if (claim !== 'inserted') {
          await client.query('ROLLBACK');
          return claim;
        }
        await client.query('SET LOCAL lock_timeout TO DEFAULT');
        let value: T;
        try {
          value = await work(client);
        } catch (error) {
          await client.query('ROLLBACK');
          if (!(error instanceof BusinessRejection)) throw error;
          // a no is final: a later delivery of this prepare must find it, and its rollback is a null one
          await this.options.pool.query(
            `INSERT INTO ${this.table} (gid, outcome) VALUES ($1, 'rejected') ON CONFLICT DO NOTHING`,
            [gid],
          );
          return { kind: 'rejected' as const, reason: error.message, details: error.details };
        }
        // a statement that failed inside `work`, its error caught, left the transaction aborted:
        // Postgres then answers PREPARE TRANSACTION with ROLLBACK, no error, and nothing is prepared
        const prepared = await client.query(`PREPARE TRANSACTION '${gid}'`);
        if (prepared.command !== 'PREPARE') {
          throw new Error(`prepare of ${gid}: the transaction was rolled back (a statement failed inside the work)`);
        }
        return { kind: 'applied' as const, value };
      });
      switch (result) {
        // another delivery of this prepare is running, or has prepared: look again
        case 'locked':
          continue;
        case 'committed':
          return { kind: 'duplicate' };
        case 'rolled-back':
          return { kind: 'refused' };
        case 'rejected':
          return { kind: 'rejected', reason: 'prepare was refused at an earlier delivery' };
        default:
          return result;
      }
    }
    throw new Error(`prepare of ${gid}: its outcome row stayed locked`);
  }

  /**
   * Commit: `COMMIT PREPARED`. A branch that is no longer prepared but whose work is visible was
   * committed before: `duplicate`. One that was rolled back, said no, or has not prepared yet throws
   * {@link XaOutcomeConflictError} (the coordinator only commits after every prepare said yes, so this
   * is a prepare still in flight or a bug; retrying is safe).
   */
  async commit(branch: XaBranch): Promise<XaResult<void>> {
    const gid = this.gidOf(branch);
    if (await this.finishPrepared(gid, 'COMMIT')) return { kind: 'applied', value: undefined };
    const outcome = await this.outcomeOf(gid);
    if (outcome === 'committed') return { kind: 'duplicate' };
    throw new XaOutcomeConflictError(gid, `commit of ${gid}: not prepared (${outcome ?? 'no prepare seen'})`);
  }

  /**
   * Rollback: `ROLLBACK PREPARED` when prepared, then the `rolled-back` fence (committed, outside any
   * prepared transaction) so that a late prepare is refused. Of an unknown branch: `null-rollback`.
   * Throws {@link XaOutcomeConflictError} if the branch had committed.
   */
  async rollback(branch: XaBranch): Promise<XaResult<void>> {
    const gid = this.gidOf(branch);
    let rolledBack = false;
    for (let wait = 0; wait < this.maxLockWaits; wait += 1) {
      rolledBack = (await this.finishPrepared(gid, 'ROLLBACK')) || rolledBack;
      const claim = await this.withClient(async (client) => {
        await client.query('BEGIN');
        const result = await this.claim(client, gid, 'rolled-back');
        await client.query(result === 'inserted' ? 'COMMIT' : 'ROLLBACK');
        return result;
      });
      switch (claim) {
        // a prepare is running and holds the row: once it has prepared, the next turn rolls it back
        case 'locked':
          continue;
        case 'inserted':
        case 'rolled-back':
          return rolledBack ? { kind: 'applied', value: undefined } : { kind: 'null-rollback' };
        case 'rejected':
          return { kind: 'null-rollback' };
        case 'committed':
          throw new XaOutcomeConflictError(gid, `rollback of ${gid}: it committed`);
      }
    }
    throw new Error(`rollback of ${gid}: its outcome row stayed locked`);
  }

  /** The prepared transactions of this prefix in this database, oldest first: the in-doubt branches. */
  async inDoubt(): Promise<{ gid: string; prepared: Date }[]> {
    const { rows } = await this.options.pool.query<{ gid: string; prepared: Date }>(
      `SELECT gid, prepared FROM pg_prepared_xacts
       WHERE database = current_database() AND starts_with(gid, $1) ORDER BY prepared`,
      [`${this.prefix}.`],
    );
    return rows;
  }

  private async isPrepared(gid: string): Promise<boolean> {
    const { rows } = await this.options.pool.query('SELECT 1 FROM pg_prepared_xacts WHERE gid = $1', [gid]);
    return rows.length > 0;
  }

  /** `COMMIT PREPARED` or `ROLLBACK PREPARED`; false when no transaction is prepared under `gid`. */
  private async finishPrepared(gid: string, verb: 'COMMIT' | 'ROLLBACK'): Promise<boolean> {
    assertSafeGid(gid);
    try {
      await this.options.pool.query(`${verb} PREPARED '${gid}'`);
      return true;
    } catch (error) {
      if (codeOf(error) === UNDEFINED_OBJECT) return false;
      throw error;
    }
  }

  private async outcomeOf(gid: string): Promise<Outcome | undefined> {
    const { rows } = await this.options.pool.query<{ outcome: Outcome }>(
      `SELECT outcome FROM ${this.table} WHERE gid = $1`,
      [gid],
    );
    return rows[0]?.outcome;
  }

  /**
   * Inserts the branch's outcome row inside the caller's open transaction. `inserted`, the outcome
   * already there, or `locked` when an uncommitted row holds the key longer than the lock timeout
   * (a prepare in flight, or prepared: a prepared transaction keeps its row locks).
   */
  private async claim(client: PoolClient, gid: string, outcome: Outcome): Promise<'inserted' | 'locked' | Outcome> {
    await client.query(`SET LOCAL lock_timeout = ${this.lockTimeoutMs}`);
    await client.query('SAVEPOINT txc_xa_claim');
    try {
      const inserted = await client.query(
        `INSERT INTO ${this.table} (gid, outcome) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
        [gid, outcome],
      );
      if (inserted.rowCount === 1) return 'inserted';
    } catch (error) {
      if (codeOf(error) !== LOCK_NOT_AVAILABLE) throw error;
      await client.query('ROLLBACK TO SAVEPOINT txc_xa_claim');
      return 'locked';
    }
    const { rows } = await client.query<{ outcome: Outcome }>(`SELECT outcome FROM ${this.table} WHERE gid = $1`, [
      gid,
    ]);
    // the conflicting row was committed before ON CONFLICT saw it, and outcome rows are never deleted
    // unless their prepared transaction rolls back, which frees the key: look again
    return rows[0]?.outcome ?? 'locked';
  }

  private withClient<R>(work: (client: PoolClient) => Promise<R>): Promise<R> {
    return withPooledClient(this.options.pool, work);
  }
}

function codeOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? (error as { code?: string }).code : undefined;
}
