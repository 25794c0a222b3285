/**
 * The one vocabulary used by the API, the log, the engine and the dashboard.
 * Each is a const object (for values) and a union type of the same name (for types).
 */

/** The consistency protocol a transaction runs under. */
export const Protocol = {
  Saga: 'saga',
  Tcc: 'tcc',
  TwoPhase: '2pc',
  ThreePhase: '3pc',
  /** A reliable message: delivered to its consumers exactly when the sender's local transaction commits. */
  Msg: 'msg',
} as const;
export type Protocol = (typeof Protocol)[keyof typeof Protocol];

/**
 * `driven`: all branches given up front. `interactive`: branches registered one by one (TCC/2PC).
 * `prepared` (msg): the message is logged, not delivered, until it is submitted or its sender's
 * check endpoint says the sender committed.
 */
export const Mode = { Driven: 'driven', Interactive: 'interactive', Prepared: 'prepared' } as const;
export type Mode = (typeof Mode)[keyof typeof Mode];

/**
 * One status set for all protocols:
 * `pending → running → committing → committed`, `running → aborting → aborted`,
 * `committing | aborting → failed` (completion retries exhausted) `→ committing | aborting` on replay.
 * A reliable message: `prepared → running → committed`, `prepared → aborted`,
 * `running → failed` (a consumer's no, or attempts exhausted) `→ running` on replay.
 */
export const TransactionStatus = {
  Pending: 'pending',
  /** A reliable message logged and not yet submitted: waiting for its sender's submit or check answer. */
  Prepared: 'prepared',
  Running: 'running',
  Committing: 'committing',
  Committed: 'committed',
  Aborting: 'aborting',
  Aborted: 'aborted',
  Failed: 'failed',
} as const;
export type TransactionStatus = (typeof TransactionStatus)[keyof typeof TransactionStatus];

/** Statuses after which the coordinator does nothing more on its own. */
export const SETTLED_STATUSES: readonly TransactionStatus[] = [
  TransactionStatus.Committed,
  TransactionStatus.Aborted,
  TransactionStatus.Failed,
];
/** Statuses that never change again. `failed` is settled but not final: an operator may replay it. */
export const FINAL_STATUSES: readonly TransactionStatus[] = [TransactionStatus.Committed, TransactionStatus.Aborted];

/**
 * A branch's status. Read it with the branch's `phase`: `completing` + `compensate` is a compensation
 * in progress, `completed` + `confirm` a confirmed TCC branch.
 */
export const BranchStatus = {
  /** Not started. */
  Pending: 'pending',
  /** Forward phase (action, try, prepare, ...) in flight or waiting for a retry. */
  Running: 'running',
  /** Forward phase answered yes. */
  Succeeded: 'succeeded',
  /** Forward phase answered a definite no. */
  Rejected: 'rejected',
  /** Forward phase stopped without an answer (attempts exhausted, or abandoned by an abort). */
  Unknown: 'unknown',
  /** Completion phase (compensate, confirm, cancel, commit, rollback) in flight or waiting for a retry. */
  Completing: 'completing',
  /** Completion phase acknowledged. */
  Completed: 'completed',
  /** Nothing to do: never started before an abort, or no completion path mapped. */
  Skipped: 'skipped',
} as const;
export type BranchStatus = (typeof BranchStatus)[keyof typeof BranchStatus];

/** Every phase of every protocol; the path default is `/{protocol}/{phase}`. */
export const Phase = {
  Action: 'action',
  Compensate: 'compensate',
  Try: 'try',
  Confirm: 'confirm',
  Cancel: 'cancel',
  Prepare: 'prepare',
  Commit: 'commit',
  Rollback: 'rollback',
  CanCommit: 'can-commit',
  PreCommit: 'pre-commit',
  DoCommit: 'do-commit',
  Abort: 'abort',
  /** A reliable message's question to its sender: did your local transaction commit? */
  Check: 'check',
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

/** Phases whose "no" rolls the transaction back; the others complete a decision and are retried until acknowledged. */
export const FORWARD_PHASES: readonly Phase[] = [
  Phase.Action,
  Phase.Try,
  Phase.Prepare,
  Phase.CanCommit,
  Phase.PreCommit,
];

/** The phases each protocol uses, forward first. */
export const PROTOCOL_PHASES: Readonly<Record<Protocol, readonly Phase[]>> = {
  saga: [Phase.Action, Phase.Compensate],
  tcc: [Phase.Try, Phase.Confirm, Phase.Cancel],
  '2pc': [Phase.Prepare, Phase.Commit, Phase.Rollback],
  '3pc': [Phase.CanCommit, Phase.PreCommit, Phase.DoCommit, Phase.Abort],
  // the check is asked of the sender, never of a consumer branch: it is not a branch phase
  msg: [Phase.Action],
};

/**
 * The id of a prepared message's check: stored and scheduled like a branch of the sender's check
 * participant (so its calls are announced, retried and recovered like any other), but never a
 * consumer. `$` is outside the id alphabet, so no client branch can take it.
 */
export const MSG_CHECK_ID = '$check';

/** What a sender's check endpoint answers (`{"state": ...}`): only the first two decide. */
export const CheckState = { Committed: 'committed', RolledBack: 'rolledback', Pending: 'pending' } as const;
export type CheckState = (typeof CheckState)[keyof typeof CheckState];

/** What a participant's answer means to the coordinator. */
export const Outcome = { Yes: 'yes', No: 'no', Unknown: 'unknown' } as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/**
 * Where a transaction stands for an operator: `healthy` in flight; `retrying` forward with a branch
 * waiting out a failed attempt; `compensating` undoing; `waiting` on a participant whose lease
 * lapsed; `failed` parked for an operator; `done` committed or aborted.
 */
export const Attention = {
  Healthy: 'healthy',
  Retrying: 'retrying',
  Compensating: 'compensating',
  Waiting: 'waiting',
  Failed: 'failed',
  Done: 'done',
} as const;
export type Attention = (typeof Attention)[keyof typeof Attention];
