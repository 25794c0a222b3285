/**
 * What a {@link ThreePhaseParticipant} is built with and exchanges with its business side: the phase
 * call it reads, the work it runs inside its local transactions, the events it reports, its options.
 */
import type { Pool, PoolClient } from 'pg';
import type { Barrier, BarrierCall } from './barrier';
import type { BranchKey, OwnDecision, ResolvedBy, TimerClock } from './three-phase-timers';

/** A 3PC phase call as {@link ThreePhaseParticipant.handle} reads it (the participant-contract body). */
export interface ThreePhaseCall extends BarrierCall {
  /** The transaction's deadline (ISO), on can-commit and pre-commit. Without it no timer is armed. */
  deadline?: string;
  payload?: unknown;
  /** The delivery's attempt number. */
  attempt?: number;
}

/**
 * A branch as a later phase sees it: its key, the payload its can-commit carried (kept on the state
 * row, so an own decision taken by a timer has it too), and who runs the phase.
 */
export interface ThreePhaseBranchCall extends BranchKey {
  payload: unknown;
  /** The delivery's attempt number, when a coordinator's call runs the phase. */
  attempt?: number;
  /** `timer`: the participant's own decision, no call from the coordinator behind it. */
  by: ResolvedBy;
}

/**
 * The business side of a 3PC participant. Each runs inside the local transaction that also writes the
 * barrier rows and the branch's state row, on `client`; throwing rolls all of it back
 * ({@link BusinessRejection} = a definite no from can-commit).
 */
export interface ThreePhaseWork<T> {
  /** can-commit: check and reserve (voting yes). */
  reserve(client: PoolClient, call: ThreePhaseCall): Promise<T>;
  /** do-commit, or the participant's own commit: make the reserved change permanent. */
  apply(client: PoolClient, branch: ThreePhaseBranchCall): Promise<T>;
  /** abort, or the participant's own abort: give the reservation back. */
  release(client: PoolClient, branch: ThreePhaseBranchCall): Promise<T>;
  /** pre-commit, optional: anything to do besides the state change. Without it the value is `undefined`. */
  preCommit?(client: PoolClient, branch: ThreePhaseBranchCall): Promise<T>;
}

/** Runs `work` in one local transaction on `client`: COMMIT when it returns, ROLLBACK when it throws. */
export type LocalTransactionRunner = <R>(work: (client: PoolClient) => Promise<R>) => Promise<R>;

/** What the participant tells its observer (counters, logs). */
export type ThreePhaseEvent =
  | { type: 'timer-commit' | 'timer-abort'; key: BranchKey }
  | { type: 'conflict'; key: BranchKey; decision: OwnDecision; status: 'committed' | 'aborted' };

/** What a {@link ThreePhaseParticipant} needs: its database, barrier, state table and business work. */
export interface ThreePhaseParticipantOptions<T> {
  /**
   * The participant's own database: the barrier rows, the state table and the work share its local
   * transactions. Needed unless {@link transaction} is given.
   */
  pool?: Pool;
  /**
   * How a local transaction is run, when not by BEGIN and COMMIT on a client of {@link pool} (the
   * Nest module runs them through TypeORM, so that handlers get an EntityManager on the same client).
   */
  transaction?: LocalTransactionRunner;
  /**
   * The action these phases belong to, kept on each state row: several participants sharing one
   * state table (one per action name) each recover only their own branches. Default `''`.
   */
  action?: string;
  /** The barrier the phases (and the timers' own decisions) go through. */
  barrier: Barrier;
  /** The state table, letters, digits and `_` only (optionally schema-qualified). */
  table: string;
  /** The business side: reserve at can-commit, apply at do-commit (or the own commit), release at abort. */
  work: ThreePhaseWork<T>;
  /** Added to every deadline. Default {@link DEFAULT_3PC_TIMER_MARGIN_MS}. */
  marginMs?: number;
  /** Default {@link SYSTEM_CLOCK}. */
  clock?: TimerClock;
  /** After a timer's failed local transaction, try again this much later. Default 1000. */
  retryMs?: number;
  /** A timer's local transaction failed (it is retried). Default: ignore. */
  onError?: (error: unknown, key: BranchKey, decision: OwnDecision) => void;
  /** Told when a timer resolved a branch or a late decision met a conflict (counters, logs). */
  onEvent?: (event: ThreePhaseEvent) => void;
}
