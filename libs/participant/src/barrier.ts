import type { Pool, PoolClient } from 'pg';
import { BusinessRejection } from './business-rejection';
import { inTransaction } from './local-transaction';
import { FORWARD_PHASES, Phase, Protocol } from '#contracts';

/** The phase delivery a barrier guards: one row per (transaction, branch, phase). */
export interface BarrierCall {
  transactionId: string;
  branchId: string;
  phase: Phase;
  /**
   * A reliable message's delivery (`msg`) has no undo, so its no is not final: a refusal is rolled
   * back with everything else, and the operator's replay may apply it. Other protocols: omitted.
   */
  protocol?: Protocol;
}

/**
 * What the barrier decided for one delivery.
 * - `applied`: first delivery; the work ran and committed together with the barrier rows.
 * - `duplicate`: this phase already committed for this branch; no work done.
 * - `null-compensation`: an undo phase arrived before its forward phase ever ran; no work done, and
 *   the forward phase is now fenced off.
 * - `refused`: a forward phase arriving after its undo phase (late, reordered delivery), whether or not
 *   it applied before the undo; no work done, so no resource is left hanging. Participants answer it with 409.
 * - `rejected`: the forward phase said no ({@link BusinessRejection}), now or at an earlier delivery.
 *   Its work was rolled back but the refusal is recorded, so every later delivery of that phase is
 *   refused too and its undo is a null compensation. Participants answer it with 409.
 */
export type BarrierResult<T> =
  | { kind: 'applied'; value: T }
  | { kind: 'duplicate' }
  | { kind: 'null-compensation' }
  | { kind: 'refused' }
  | { kind: 'rejected'; reason: string; details?: Record<string, unknown> };

/** The outcome names of {@link BarrierResult}. */
export type BarrierKind = BarrierResult<unknown>['kind'];

/** Undo phase → the forward phase it undoes. A completion phase is also fenced by its rival ({@link COMPLETION_RIVAL}). */
export const UNDO_ORIGIN: Readonly<Partial<Record<Phase, Phase>>> = {
  [Phase.Compensate]: Phase.Action,
  [Phase.Cancel]: Phase.Try,
  [Phase.Rollback]: Phase.Prepare,
  [Phase.Abort]: Phase.CanCommit,
};

/**
 * Later forward phases an undo also fences off. 3PC's abort undoes can-commit, and a pre-commit
 * delivered after it (a late or reordered delivery) must not prepare the participant to commit on
 * its own timer against the abort.
 */
export const ALSO_FENCES: Readonly<Partial<Record<Phase, readonly Phase[]>>> = {
  [Phase.Abort]: [Phase.PreCommit],
};

/** Forward phase → the undo phases whose rows say it was undone ({@link UNDO_ORIGIN} and {@link ALSO_FENCES} turned round). */
const UNDONE_BY: Readonly<Partial<Record<Phase, readonly Phase[]>>> = (() => {
  const undone: Partial<Record<Phase, Phase[]>> = {};
  for (const [undo, origin] of Object.entries(UNDO_ORIGIN) as [Phase, Phase][]) (undone[origin] ??= []).push(undo);
  for (const [undo, fenced] of Object.entries(ALSO_FENCES) as [Phase, readonly Phase[]][]) {
    for (const phase of fenced) (undone[phase] ??= []).push(undo);
  }
  return undone;
})();

/**
 * The completion phases that exclude each other: a branch is confirmed or cancelled (committed or
 * rolled back), never both. The coordinator never sends both (its decision is durable), so this is
 * a safety net: whichever comes first takes the branch's decision row, and the other is refused.
 * 3PC's do-commit and abort are fenced by the participant's own state (ThreePhaseParticipant).
 */
export const COMPLETION_RIVAL: Readonly<Partial<Record<Phase, Phase>>> = {
  [Phase.Confirm]: Phase.Cancel,
  [Phase.Cancel]: Phase.Confirm,
  [Phase.Commit]: Phase.Rollback,
  [Phase.Rollback]: Phase.Commit,
};

/**
 * Commit-side completion → the forward phase it follows. The coordinator sends a confirm or commit
 * only after that phase said yes, so one that arrives first is a reordered delivery (or a phase the
 * client mapped to `null`, never sent): it fences the forward phase off, and a try or prepare
 * delivered after it is refused instead of reserving what nothing will confirm or cancel.
 */
export const COMMIT_ORIGIN: Readonly<Partial<Record<Phase, Phase>>> = {
  [Phase.Confirm]: Phase.Try,
  [Phase.Commit]: Phase.Prepare,
};

/** The `op` of a branch's decision row (`$` is outside the phase names). */
const DECISION_OP = '$decision';

/** The `reason` of a forward phase's row once that phase said no. */
const REJECTED = 'rejected';

/** The default barrier table name. */
export const DEFAULT_BARRIER_TABLE = 'txc_barrier';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;

/**
 * The exactly-once barrier (DTM's `barrier.go`, Seata's `tcc_fence_log`), on plain `pg`.
 *
 * Guarantee: for each (transactionId, branchId, phase) the work runs and commits at most once, in the
 * same local transaction as the barrier rows, however often and in whatever order the phases are
 * delivered; an undo phase that arrives before its forward phase does nothing and makes the late
 * forward phase a no-op (`refused`). A forward phase that says no stays no: the refusal is recorded
 * (the work is rolled back to a savepoint, the barrier row is kept), so a late or repeated delivery
 * of it never applies (DESIGN rule "a definite no is final at the participant too"). Concurrent
 * duplicate deliveries serialize on the barrier row's primary key, so exactly one of them applies.
 *
 * Requires READ COMMITTED (Postgres' default) for the local transaction: under stricter isolation a
 * concurrent duplicate fails with a serialization error instead of being reported as `duplicate`
 * (still safe: nothing applied twice, and the error is retryable).
 */
export class Barrier {
  /** @param table barrier table name, optionally schema-qualified; letters, digits and `_` only. */
  constructor(readonly table: string = DEFAULT_BARRIER_TABLE) {
    assertIdentifier(table);
  }

  /** The idempotent DDL creating the barrier table. */
  static ddl(table: string = DEFAULT_BARRIER_TABLE): string {
    assertIdentifier(table);
    return `CREATE TABLE IF NOT EXISTS ${table} (
  transaction_id text NOT NULL,
  branch_id text NOT NULL,
  op text NOT NULL,
  reason text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (transaction_id, branch_id, op)
)`;
  }

  /** Creates this barrier's table if it does not exist (on a pg Pool or client, or a TypeORM DataSource). */
  async install(db: { query(sql: string): Promise<unknown> }): Promise<void> {
    await db.query(Barrier.ddl(this.table));
  }

  /**
   * Runs `work` at most once for `call`, in one local transaction that this method owns: it takes a
   * client from `pool`, BEGINs, writes the barrier rows, runs `work` on that client when the barrier
   * says so, and COMMITs. A {@link BusinessRejection} from a forward phase's work is final: the work
   * is undone, the refusal committed, and the rejection thrown (again, to every later delivery of
   * that phase). If anything else throws, it ROLLBACKs — barrier rows included, so a retry can
   * apply — and rethrows. This is the API to use unless the caller already holds a transaction.
   */
  async run<T>(
    pool: Pick<Pool, 'connect'>,
    call: BarrierCall,
    work: (client: PoolClient) => Promise<T>,
  ): Promise<Exclude<BarrierResult<T>, { kind: 'rejected' }>> {
    const result = await inTransaction(pool, (client) => this.runInTransaction(client, call, work));
    if (result.kind === 'rejected') throw new BusinessRejection(result.reason, result.details);
    return result;
  }

  /**
   * Same decision as {@link Barrier.run}, inside a transaction the caller has already BEGUN on
   * `client` and will COMMIT, or ROLLBACK if this throws. A forward phase's rejection is returned as
   * `rejected` (its refusal must be committed with the rest); the guarantee holds only if the caller
   * commits the barrier rows and its own changes together.
   */
  async runInTransaction<T>(
    client: PoolClient,
    call: BarrierCall,
    work: (client: PoolClient) => Promise<T>,
  ): Promise<BarrierResult<T>> {
    const origin = UNDO_ORIGIN[call.phase];
    // the undo phase claims its origin's slot first: a forward phase arriving later finds it taken
    const originInserted = origin ? await this.insert(client, call, origin, call.phase) : false;
    for (const later of ALSO_FENCES[call.phase] ?? []) await this.insert(client, call, later, call.phase);
    const followed = COMMIT_ORIGIN[call.phase];
    if (followed) await this.insert(client, call, followed, call.phase);
    // the first completion takes the decision (a concurrent rival waits on the row, then sees it)
    if (COMPLETION_RIVAL[call.phase] && !(await this.insert(client, call, DECISION_OP, call.phase))) {
      if ((await this.reasonOf(client, call, DECISION_OP)) !== call.phase) return { kind: 'refused' };
    }
    const currentInserted = await this.insert(client, call, call.phase, call.phase);
    if (!currentInserted) {
      const reason = await this.reasonOf(client, call, call.phase);
      if (reason === REJECTED) return { kind: 'rejected', reason: `${call.phase} was refused at an earlier delivery` };
      if (reason !== call.phase) return { kind: 'refused' };
      // a repeat of a forward phase that applied, and was undone since: a no, as a first delivery after the undo is
      return (await this.undone(client, call)) ? { kind: 'refused' } : { kind: 'duplicate' };
    }
    if (originInserted) return { kind: 'null-compensation' };
    // the forward phase said no: it holds nothing, so its undo has nothing to do
    if (origin && (await this.reasonOf(client, call, origin)) === REJECTED) return { kind: 'null-compensation' };
    if (!FORWARD_PHASES.includes(call.phase)) return { kind: 'applied', value: await work(client) };
    await client.query('SAVEPOINT txc_barrier_work');
    try {
      return { kind: 'applied', value: await work(client) };
    } catch (error) {
      // a message's consumer said no: nothing will undo it, so nothing is kept and a replay may apply
      if (!(error instanceof BusinessRejection) || call.protocol === Protocol.Msg) throw error;
      // undo the work, keep the barrier row: a late delivery of this phase must find the no
      await client.query('ROLLBACK TO SAVEPOINT txc_barrier_work');
      await client.query(
        `UPDATE ${this.table} SET reason = $4 WHERE transaction_id = $1 AND branch_id = $2 AND op = $3`,
        [call.transactionId, call.branchId, call.phase, REJECTED],
      );
      return { kind: 'rejected', reason: error.message, details: error.details };
    }
  }

  /**
   * Deletes this barrier's rows written before `before`, `batchSize` rows per statement (each a
   * short transaction that skips rows a delivery holds), until none is left (or `maxBatches`
   * statements ran); returns how many went.
   *
   * A row is what makes a late or repeated delivery harmless: delete only rows older than any
   * delivery the coordinator can still make for them. That is past the longest transaction
   * deadline (the coordinator's `maxTimeoutMs`, 24 h) plus the completion phases' retries, and,
   * for a transaction parked as `failed`, until an operator replays it: choose the horizon with
   * the time failed transactions may wait for replay in mind (docs/retention.md).
   */
  async deleteOlderThan(
    db: { query(sql: string, parameters?: unknown[]): Promise<unknown> },
    before: Date,
    { batchSize = 1_000, maxBatches = Number.POSITIVE_INFINITY }: { batchSize?: number; maxBatches?: number } = {},
  ): Promise<number> {
    let total = 0;
    for (let batch = 1; ; batch++) {
      const answer = await db.query(
        `WITH gone AS (
           DELETE FROM ${this.table} WHERE ctid IN (
             SELECT ctid FROM ${this.table} WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING 1)
         SELECT count(*)::int AS n FROM gone`,
        [before, batchSize],
      );
      // a pg Pool answers { rows }, a TypeORM DataSource the rows themselves
      const rows = (Array.isArray(answer) ? answer : (answer as { rows: unknown[] }).rows) as { n: number }[];
      total += rows[0].n;
      if (rows[0].n < batchSize || batch >= maxBatches) return total;
    }
  }

  /** The idempotent DDL of the index {@link deleteOlderThan} finds old rows by. */
  static retentionDdl(table: string = DEFAULT_BARRIER_TABLE): string {
    assertIdentifier(table);
    const name = `${table.split('.').pop()}_created_at`;
    return `CREATE INDEX IF NOT EXISTS ${name} ON ${table} (created_at)`;
  }

  private async insert(client: PoolClient, call: BarrierCall, op: string, reason: string): Promise<boolean> {
    const result = await client.query(
      `INSERT INTO ${this.table} (transaction_id, branch_id, op, reason) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING`,
      [call.transactionId, call.branchId, op, reason],
    );
    return result.rowCount === 1;
  }

  /** Whether an undo of `call`'s (forward) phase has run for its branch. */
  private async undone(client: PoolClient, call: BarrierCall): Promise<boolean> {
    const undos = UNDONE_BY[call.phase];
    if (!undos) return false;
    const result = await client.query(
      `SELECT 1 FROM ${this.table} WHERE transaction_id = $1 AND branch_id = $2 AND op = ANY($3::text[])`,
      [call.transactionId, call.branchId, undos],
    );
    return result.rows.length > 0;
  }

  private async reasonOf(client: PoolClient, call: BarrierCall, op: string): Promise<string> {
    const result = await client.query<{ reason: string }>(
      `SELECT reason FROM ${this.table} WHERE transaction_id = $1 AND branch_id = $2 AND op = $3`,
      [call.transactionId, call.branchId, op],
    );
    // the conflicting row was committed before ON CONFLICT saw it, and only retention deletes rows
    // (long after any delivery): a vanished row is an error, retried by the coordinator
    if (result.rows.length === 0) throw new Error(`barrier row vanished for ${describe(call)}`);
    return result.rows[0].reason;
  }
}

function assertIdentifier(table: string): void {
  if (!IDENTIFIER.test(table)) throw new TypeError(`invalid barrier table name: ${JSON.stringify(table)}`);
}

function describe(call: BarrierCall): string {
  return `${call.transactionId}/${call.branchId}/${call.phase}`;
}
