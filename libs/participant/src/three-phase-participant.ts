import type { PoolClient } from 'pg';
import { inTransaction } from './local-transaction';
import { Phase } from '#contracts';
import type { BarrierResult } from './barrier';
import { BusinessRejection } from './business-rejection';
import type {
  LocalTransactionRunner,
  ThreePhaseBranchCall,
  ThreePhaseCall,
  ThreePhaseParticipantOptions,
} from './three-phase-participant-options';
import {
  SYSTEM_CLOCK,
  ThreePhaseTimers,
  ownDecisionOf,
  timerFireAt,
  type BranchKey,
  type OwnDecision,
  type ResolvedBy,
  type ThreePhasePendingStatus,
  type ThreePhaseStatus,
  type TimerClock,
} from './three-phase-timers';

/**
 * What {@link ThreePhaseParticipant.handle} decided, the barrier's outcomes plus:
 * - `conflict`: a do-commit or abort that contradicts what this branch already did on its own timer
 *   (an abort after the participant committed: docs/protocols/3pc-vs-2pc.md N1-N3), or a do-commit
 *   for a branch that never voted here (its abort came first: `status` is then `aborted`). Nothing
 *   is changed; it is recorded on the state row if there is one, and it should be acknowledged (2xx)
 *   so the coordinator stops re-sending what can no longer be carried out. Only the first such
 *   delivery reports it; a repeat is a `duplicate`.
 */
export type ThreePhaseResult<T> =
  | BarrierResult<T>
  | { kind: 'conflict'; decision: OwnDecision; status: 'committed' | 'aborted'; resolvedBy: ResolvedBy | null };

/** A branch's state row. */
export interface ThreePhaseBranch extends BranchKey {
  status: ThreePhaseStatus;
  deadline: Date | null;
  resolvedBy: ResolvedBy | null;
  /** Set when a decision contradicting this branch's own resolution arrived (e.g. `abort after timer commit`). */
  conflict: string | null;
  updatedAt: Date;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;

type Outcome<T> =
  { conflict: false; value: T } | { conflict: true; status: 'committed' | 'aborted'; resolvedBy: ResolvedBy | null };

/**
 * A 3PC participant on Postgres: `can-commit` reserves (through `work.reserve`) and arms the own-abort
 * timer, `pre-commit` re-arms it as own-commit, `do-commit` applies, `abort` releases, all exactly once
 * through the barrier. A timer that fires resolves the branch by running do-commit or abort through the
 * same barrier, so a coordinator's do-commit or abort arriving later that agrees is a `duplicate`
 * (never applied twice) and one that disagrees is a `conflict`.
 *
 * Every phase locks the branch's state row before it writes its barrier rows (the timers too), so a
 * timer and a late call for the same branch serialize instead of deadlocking.
 *
 * Rules beyond those of docs/protocols/3pc.md (Participant), both there to avoid acting against a coordinator that has already given
 * up: a can-commit or pre-commit processed at or after its `deadline` is refused (409: the coordinator
 * decides abort at its deadline, so voting or pre-committing then can only end in a conflict), and a
 * pre-commit that finds the branch already aborted is refused.
 */
export class ThreePhaseParticipant<T> {
  readonly timers: ThreePhaseTimers;
  readonly table: string;
  /** The action whose branches this participant resolves (its state rows carry it). */
  readonly action: string;
  private readonly clock: TimerClock;
  private readonly inTransaction: LocalTransactionRunner;

  constructor(private readonly options: ThreePhaseParticipantOptions<T>) {
    if (!IDENTIFIER.test(options.table)) throw new TypeError(`invalid table name: ${JSON.stringify(options.table)}`);
    this.table = options.table;
    this.action = options.action ?? '';
    const { pool, transaction } = options;
    if (!transaction && !pool) throw new TypeError('a ThreePhaseParticipant needs a `pool` or a `transaction` runner');
    this.inTransaction = transaction ?? ((work) => inTransaction(pool!, work));
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.timers = new ThreePhaseTimers((key, decision) => this.fire(key, decision), {
      marginMs: options.marginMs,
      clock: this.clock,
      retryMs: options.retryMs,
      onError: options.onError,
    });
  }

  /** The idempotent DDL of the state table. */
  static ddl(table: string): string[] {
    if (!IDENTIFIER.test(table)) throw new TypeError(`invalid table name: ${JSON.stringify(table)}`);
    const index = `${table.replace('.', '_')}_pending`; // an index takes its table's schema
    return [
      `CREATE TABLE IF NOT EXISTS ${table} (
  transaction_id text NOT NULL,
  branch_id text NOT NULL,
  status text NOT NULL CHECK (status IN ('voted', 'pre-committed', 'committed', 'aborted')),
  deadline timestamptz,
  resolved_by text CHECK (resolved_by IN ('coordinator', 'timer')),
  conflict text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (transaction_id, branch_id)
)`,
      // both added after the table's first version: an older table gets them here
      `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS action text NOT NULL DEFAULT ''`,
      `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS payload jsonb`,
      `CREATE INDEX IF NOT EXISTS ${index} ON ${table} (deadline) WHERE status IN ('voted', 'pre-committed')`,
    ];
  }

  ddl(): string[] {
    return ThreePhaseParticipant.ddl(this.table);
  }

  /**
   * Runs one 3PC phase call exactly once. Throws {@link BusinessRejection} for a no (can-commit's
   * `reserve` said no, or a can-commit / pre-commit that is too late); anything else thrown is retryable.
   */
  async handle(call: ThreePhaseCall): Promise<ThreePhaseResult<T>> {
    switch (call.phase) {
      case Phase.CanCommit:
        return this.canCommit(call);
      case Phase.PreCommit:
        return this.preCommit(call);
      case Phase.DoCommit:
        return this.complete(call, 'commit', 'coordinator');
      case Phase.Abort:
        return this.complete(call, 'abort', 'coordinator');
      default:
        throw new TypeError(`${call.phase} is not a 3PC phase`);
    }
  }

  /**
   * On start: every branch still `voted` or `pre-committed` gets its timer back. Those whose `deadline
   * + margin` has already passed are resolved now, by the same rule, before this resolves (a branch
   * whose local transaction fails stays armed and is retried). Returns how many were resolved and armed.
   */
  async recover(): Promise<{ resolved: number; armed: number }> {
    const { rows } = await this.inTransaction((client) =>
      client.query<{ transaction_id: string; branch_id: string; status: ThreePhasePendingStatus; deadline: Date }>(
        `SELECT transaction_id, branch_id, status, deadline FROM ${this.table}
          WHERE status IN ('voted', 'pre-committed') AND deadline IS NOT NULL AND action = $1 ORDER BY deadline`,
        [this.action],
      ),
    );
    let resolved = 0;
    let armed = 0;
    for (const row of rows) {
      const key = { transactionId: row.transaction_id, branchId: row.branch_id };
      if (timerFireAt(row.deadline, this.timers.marginMs) <= this.clock.now()) {
        try {
          await this.fire(key, ownDecisionOf(row.status));
          resolved += 1;
          continue;
        } catch (error) {
          this.options.onError?.(error, key, ownDecisionOf(row.status));
        }
      }
      this.timers.arm(key, row.status, row.deadline);
      armed += 1;
    }
    return { resolved, armed };
  }

  /** The state row of one branch, or null. */
  async branch(key: BranchKey): Promise<ThreePhaseBranch | null> {
    return (await this.branches(key.transactionId)).find((b) => b.branchId === key.branchId) ?? null;
  }

  /** The state rows of one transaction, or of every transaction. */
  async branches(transactionId?: string): Promise<ThreePhaseBranch[]> {
    const { rows } = await this.inTransaction((client) =>
      client.query(
        `SELECT transaction_id, branch_id, status, deadline, resolved_by, conflict, updated_at FROM ${this.table}
          ${transactionId === undefined ? '' : 'WHERE transaction_id = $1'} ORDER BY transaction_id, branch_id`,
        transactionId === undefined ? [] : [transactionId],
      ),
    );
    return rows.map((r) => ({
      transactionId: r.transaction_id,
      branchId: r.branch_id,
      status: r.status,
      deadline: r.deadline,
      resolvedBy: r.resolved_by,
      conflict: r.conflict,
      updatedAt: r.updated_at,
    }));
  }

  /** Stops every timer (pending branches stay in the table for {@link recover}). */
  close(): Promise<void> {
    return this.timers.close();
  }

  private async canCommit(call: ThreePhaseCall): Promise<ThreePhaseResult<T>> {
    const deadline = deadlineOf(call);
    const result = await this.inTransaction(async (client) => {
      // no state row to lock yet: concurrent duplicates serialize on the barrier row instead
      return this.options.barrier.runInTransaction(client, call, async (c) => {
        if (deadline !== null && this.clock.now() >= deadline.getTime()) {
          throw new BusinessRejection(`can-commit refused: its deadline ${deadline.toISOString()} has passed`);
        }
        const value = await this.options.work.reserve(c, call);
        await c.query(
          `INSERT INTO ${this.table} (transaction_id, branch_id, status, deadline, action, payload)
            VALUES ($1, $2, 'voted', $3, $4, $5)`,
          [call.transactionId, call.branchId, deadline, this.action, JSON.stringify(call.payload ?? null)],
        );
        return value;
      });
    });
    if (result.kind === 'rejected') throw new BusinessRejection(result.reason, result.details);
    if (result.kind === 'applied' && deadline) this.timers.arm(call, 'voted', deadline);
    return result;
  }

  private async preCommit(call: ThreePhaseCall): Promise<ThreePhaseResult<T>> {
    const deadline = deadlineOf(call);
    const armed: { at: Date | null } = { at: null };
    const result = await this.inTransaction(async (client) => {
      const row = await this.lock(client, call);
      return this.options.barrier.runInTransaction(client, call, async (c) => {
        if (!row) throw new BusinessRejection('pre-commit refused: this branch never voted yes to can-commit');
        if (row.status !== 'voted') {
          throw new BusinessRejection(
            `pre-commit refused: the branch is already ${row.status}${row.resolved_by ? ` (by the ${row.resolved_by})` : ''}`,
          );
        }
        const effective = deadline ?? row.deadline;
        if (effective && this.clock.now() >= effective.getTime()) {
          throw new BusinessRejection(`pre-commit refused: its deadline ${effective.toISOString()} has passed`);
        }
        const value = this.options.work.preCommit
          ? await this.options.work.preCommit(c, branchCall(call, row, 'coordinator'))
          : (undefined as T);
        await c.query(
          `UPDATE ${this.table} SET status = 'pre-committed', deadline = $3, updated_at = now()
            WHERE transaction_id = $1 AND branch_id = $2`,
          [call.transactionId, call.branchId, effective],
        );
        armed.at = effective;
        return value;
      });
    });
    if (result.kind === 'rejected') throw new BusinessRejection(result.reason, result.details);
    if (result.kind === 'applied' && armed.at) this.timers.arm(call, 'pre-committed', armed.at);
    return result;
  }

  /** do-commit or abort, from the coordinator. */
  private async complete(call: ThreePhaseCall, decision: OwnDecision, by: ResolvedBy): Promise<ThreePhaseResult<T>> {
    const result = await this.inTransaction(async (client) => {
      const seen = await this.lock(client, call);
      return this.options.barrier.runInTransaction(client, call, async (c) => {
        // none seen: the can-commit may have been in its transaction then, and the barrier has
        // waited for it since: its row is there now, and is the one this decision resolves
        const row = seen ?? (await this.lock(c, call));
        return this.resolve(c, branchCall(call, row, by), row, decision);
      });
    });
    if (result.kind !== 'applied') return result;
    const outcome = result.value;
    if (!outcome.conflict) {
      this.timers.disarm(call);
      return { kind: 'applied', value: outcome.value };
    }
    this.options.onEvent?.({ type: 'conflict', key: keyOnly(call), decision, status: outcome.status });
    return { kind: 'conflict', decision, status: outcome.status, resolvedBy: outcome.resolvedBy };
  }

  /** A timer fired: resolve the branch on its own, unless it left the status it was armed in. */
  private async fire(key: BranchKey, decision: OwnDecision): Promise<void> {
    const expected: ThreePhasePendingStatus = decision === 'commit' ? 'pre-committed' : 'voted';
    const call = { ...keyOnly(key), phase: decision === 'commit' ? Phase.DoCommit : Phase.Abort };
    const fired = await this.inTransaction(async (client) => {
      const row = await this.lock(client, key);
      if (!row || row.status !== expected) return false; // a decision got there first
      const r = await this.options.barrier.runInTransaction(client, call, (c) =>
        this.resolve(c, branchCall(key, row, 'timer'), row, decision),
      );
      return r.kind === 'applied';
    });
    if (fired)
      this.options.onEvent?.({ type: decision === 'commit' ? 'timer-commit' : 'timer-abort', key: keyOnly(key) });
  }

  /** Inside the barrier, with the state row locked: carry out `decision`, or record that it conflicts. */
  private async resolve(
    client: PoolClient,
    branch: ThreePhaseBranchCall,
    row: StateRow | null,
    decision: OwnDecision,
  ): Promise<Outcome<T>> {
    const key = keyOnly(branch);
    // nothing was reserved here (its abort came first, or no can-commit ever did): nothing to commit.
    // The coordinator sends do-commit only after every branch voted yes, so this is a contradiction
    if (decision === 'commit' && row === null) return { conflict: true, status: 'aborted', resolvedBy: null };
    const contrary = decision === 'commit' ? 'aborted' : 'committed';
    if (row?.status === contrary) {
      const conflict = `${decision === 'commit' ? 'do-commit' : 'abort'} after ${row.resolved_by ?? 'coordinator'} ${decision === 'commit' ? 'abort' : 'commit'}`;
      await client.query(
        `UPDATE ${this.table} SET conflict = coalesce(conflict || '; ', '') || $3, updated_at = now()
          WHERE transaction_id = $1 AND branch_id = $2`,
        [key.transactionId, key.branchId, conflict],
      );
      return { conflict: true, status: contrary, resolvedBy: row.resolved_by };
    }
    const value =
      decision === 'commit'
        ? await this.options.work.apply(client, branch)
        : await this.options.work.release(client, branch);
    if (row) {
      await client.query(
        `UPDATE ${this.table} SET status = $3, resolved_by = $4, updated_at = now()
          WHERE transaction_id = $1 AND branch_id = $2`,
        [key.transactionId, key.branchId, decision === 'commit' ? 'committed' : 'aborted', branch.by],
      );
    }
    return { conflict: false, value };
  }

  private async lock(client: PoolClient, key: BranchKey): Promise<StateRow | null> {
    const { rows } = await client.query<StateRow>(
      `SELECT status, deadline, resolved_by, payload FROM ${this.table}
        WHERE transaction_id = $1 AND branch_id = $2 FOR UPDATE`,
      [key.transactionId, key.branchId],
    );
    return rows[0] ?? null;
  }
}

interface StateRow {
  status: ThreePhaseStatus;
  deadline: Date | null;
  resolved_by: ResolvedBy | null;
  payload: unknown;
}

function keyOnly(key: BranchKey): BranchKey {
  return { transactionId: key.transactionId, branchId: key.branchId };
}

/** What a later phase's work gets: the call's payload, else the one its can-commit left on the state row. */
function branchCall(
  key: BranchKey & { payload?: unknown; attempt?: number },
  row: StateRow | null,
  by: ResolvedBy,
): ThreePhaseBranchCall {
  const payload = key.payload !== undefined ? key.payload : (row?.payload ?? undefined);
  return { ...keyOnly(key), payload, by, ...(key.attempt === undefined ? {} : { attempt: key.attempt }) };
}

/** The call's deadline, or null when it has none; a malformed one is a 409 (never retried). */
function deadlineOf(call: ThreePhaseCall): Date | null {
  if (call.deadline === undefined || call.deadline === null) return null;
  const at = typeof call.deadline === 'string' ? Date.parse(call.deadline) : NaN;
  if (!Number.isFinite(at))
    throw new BusinessRejection(`deadline must be an ISO time, got ${JSON.stringify(call.deadline)}`);
  return new Date(at);
}
