/**
 * What a {@link ThreePhaseParticipant} is built with and exchanges with its business side: the phase
 * call it reads, the work it runs inside its local transactions, the events it reports, its options.
 */
import type { Pool, PoolClient } from 'pg';
import type { Barrier, BarrierCall } from './barrier';
import type { BranchKey, OwnDecision, TimerClock } from './three-phase-timers';

/** A 3PC phase call as {@link ThreePhaseParticipant.handle} reads it (the participant-contract body). */
export interface ThreePhaseCall extends BarrierCall {
  /** The transaction's deadline (ISO), on can-commit and pre-commit. Without it no timer is armed. */
  deadline?: string;
  payload?: unknown;
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
  apply(client: PoolClient, key: BranchKey): Promise<T>;
  /** abort, or the participant's own abort: give the reservation back. */
  release(client: PoolClient, key: BranchKey): Promise<T>;
  /** pre-commit, optional: anything to do besides the state change. Without it the value is `undefined`. */
  preCommit?(client: PoolClient, key: BranchKey): Promise<T>;
}

/** What the participant tells its observer (counters, logs). */
export type ThreePhaseEvent =
  | { type: 'timer-commit' | 'timer-abort'; key: BranchKey }
  | { type: 'conflict'; key: BranchKey; decision: OwnDecision; status: 'committed' | 'aborted' };

/** What a {@link ThreePhaseParticipant} needs: its database, barrier, state table and business work. */
export interface ThreePhaseParticipantOptions<T> {
  /** The participant's own database: the barrier rows, the state table and the work share its local transactions. */
  pool: Pool;
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
