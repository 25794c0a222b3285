import type {
  Attention,
  BranchStatus,
  StatusChange,
  Mode,
  Outcome,
  Phase,
  Protocol,
  TransactionStatus,
} from '#contracts';

/** A transaction row as the engine reads it. */
export interface TransactionRecord {
  id: string;
  protocol: Protocol;
  mode: Mode;
  status: TransactionStatus;
  decision: 'commit' | 'abort' | null;
  timeoutMs: number;
  deadline: Date;
  retry: { maxAttempts: number; initialBackoffMs: number; maxBackoffMs: number };
  requestHash: string;
  participants: string[];
  error: string | null;
  owner: string | null;
  version: number;
  wakeAt: Date | null;
  abortRequested: boolean;
  /** Who flagged the abort and why (`{operator: {action, actor, reason}}`), for the owner to record. */
  abortNote?: Record<string, unknown> | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface BranchRecord {
  id: string;
  position: number;
  participant: string;
  dependsOn: string[];
  paths: Partial<Record<Phase, string | null>>;
  skippedPhases: Phase[];
  payload: unknown;
  status: BranchStatus;
  phase: Phase;
  attempt: number;
  budgetBase: number;
  inFlight: boolean;
  retryAt: Date | null;
  result: unknown;
}

export interface EventRecord {
  seq: number;
  at: Date;
  type: string;
  branchId: string | null;
  phase: Phase | null;
  attempt: number | null;
  outcome: Outcome | null;
  detail: Record<string, unknown> | null;
}

/** A transaction with everything needed to drive or show it. */
export interface LoadedTransaction {
  txn: TransactionRecord;
  branches: BranchRecord[];
  /** Highest event seq written so far. */
  lastSeq: number;
}

/** The mutable part of a branch, as written by `advance`. */
export type BranchChange = Pick<
  BranchRecord,
  'id' | 'status' | 'phase' | 'attempt' | 'budgetBase' | 'inFlight' | 'retryAt'
> & { result?: unknown; setResult?: boolean };

/** The mutable part of a transaction, as written by `advance`. */
export type TransactionChange = Pick<TransactionRecord, 'status' | 'decision' | 'error' | 'owner' | 'wakeAt'>;

export type { StatusChange };

export type NewEvent = Omit<EventRecord, 'detail'> & { detail?: Record<string, unknown> | null };

/** Writes a new transaction, its branches and first events in one step. */
export interface CreateOp {
  op: 'create';
  txn: Omit<TransactionRecord, 'version' | 'abortRequested' | 'updatedAt'>;
  branches: BranchRecord[];
  events: NewEvent[];
  /** Claim this Idempotency-Key in the same step; nothing is written if it is taken. */
  /** `holder`: the instance whose request claims the key (see {@link IdempotencyRecord.holder}). */
  idempotency?: { key: string; requestHash: string; expiresAt: Date; holder?: string };
}

/** A guarded state change of a transaction the writer owns at `version`. */
export interface AdvanceOp {
  op: 'advance';
  id: string;
  version: number;
  txn: TransactionChange;
  branches: BranchChange[];
  events: NewEvent[];
  /** When the step happened: the row's `updated_at` (the database clock when absent). */
  at?: Date;
  /** Branches registered by this step (interactive mode), inserted before `branches` are applied. */
  newBranches?: BranchRecord[];
  /** Set when the step changes the transaction's status: it is announced to the live stream once durable. */
  announce?: { protocol: Protocol };
  /** The first response of an Idempotency-Key, stored with this step only if the step applies. */
  respond?: StoredResponse;
}

/** A response stored for an Idempotency-Key (its first; a later one for the same key is not kept). */
export interface StoredResponse {
  key: string;
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

/** Stores the first response given for an Idempotency-Key. */
export interface RespondOp extends StoredResponse {
  op: 'respond';
}

export type StoreOp = CreateOp | AdvanceOp | RespondOp;

/**
 * `ok`; `exists`: a transaction with that id exists (nothing written); `key-taken`: the
 * Idempotency-Key was claimed first by another request (nothing written); `stale`: another instance
 * took the transaction over (nothing written); `abort-requested`: written, and an abort was asked
 * for through another instance; `abort-first`: an abort was asked for through another instance
 * before this step, which would decide (commit, or abort for another reason) without recording it,
 * or register a branch (nothing written: the asked-for abort goes first).
 */
export type StoreResult = 'ok' | 'exists' | 'key-taken' | 'stale' | 'abort-requested' | 'abort-first';

export interface ListFilter {
  statuses?: string[];
  protocol?: string;
  participant?: string;
  attention?: Attention;
  from?: Date;
  to?: Date;
  /** An id, an id prefix, or an Idempotency-Key. */
  q?: string;
  limit: number;
  after?: { createdAt: Date; id: string };
}

/** How {@link TransactionStore.claimIdempotencyKey} claims a key, and when it takes another's claim over. */
export interface KeyClaimOptions {
  /** The instance claiming the key (recorded as the key's holder). */
  holder?: string;
  /** Age at which an unanswered claim of the same request is taken over; unset: never. */
  staleAfterMs?: number;
  /** Instances known dead: their unanswered claims of the same request are taken over at once (with `staleAfterMs`). */
  deadHolders?: readonly string[];
}

export interface IdempotencyRecord {
  key: string;
  requestHash: string;
  /** The transaction a `POST /v1/transactions` with this key created. */
  transactionId: string | null;
  /** Seconds since the key was claimed. */
  ageSeconds: number;
  /**
   * The coordinator instance whose request claimed the key: once that instance is known dead, an
   * unanswered claim will never be answered by its request. Null for a key claimed without one.
   */
  holder: string | null;
  responseStatus: number | null;
  responseBody: unknown;
  responseHeaders: Record<string, string> | null;
}

/**
 * The transaction log, named by what the engine needs of it. Every state change is one database
 * transaction with a guarded update; results are typed, never silent no-ops.
 */
export interface TransactionStore {
  /** Applies one state change; concurrent calls are group-committed together. */
  apply(op: StoreOp): Promise<StoreResult>;
  /**
   * Like {@link apply}, with the op built when its group-commit batch is cut: at once when the log is
   * idle, otherwise when the flush in flight ends. Until `build` is called its caller may still fold
   * more into the op (a write that waits anyway takes in what arrives meanwhile).
   */
  applyBuiltAtCut(build: () => StoreOp): Promise<StoreResult>;
  /** The transaction with its branches, or null. */
  load(id: string): Promise<LoadedTransaction | null>;
  /** Events of a transaction, oldest first. */
  events(id: string): Promise<EventRecord[]>;
  /** The transaction, its branches and its events read in one snapshot (for views), or null. */
  snapshot(id: string): Promise<{ loaded: LoadedTransaction; events: EventRecord[] } | null>;
  /**
   * Takes over a transaction for `instanceId` when nobody is advancing it: unowned and in a driveable
   * status (or `failed` when `forReplay`), owned by an instance in `deadOwners`, owned by `instanceId`
   * itself (the caller has no driver for it), or owned by anyone but untouched for `stuckAfterMs`
   * (a live owner that stopped driving it). Bumps the version, fencing the previous owner. Returns
   * the loaded transaction, or null if it cannot be taken. With `dueOnly`, an unowned row is taken
   * only when there is something to do: its wake-up is due (within a second), it has none, or an
   * abort is flagged; a wake-up or sweep that lost a race to the step that rescheduled it then
   * leaves the row alone instead of holding it idle until the new wake-up.
   */
  claim(
    id: string,
    instanceId: string,
    deadOwners: string[],
    options?: { forReplay?: boolean; stuckAfterMs?: number; dueOnly?: boolean },
  ): Promise<LoadedTransaction | null>;
  /** {@link claim} for many ids in one statement (one read of all their branches): the ones taken, in no order. */
  claimMany(
    ids: string[],
    instanceId: string,
    deadOwners: string[],
    options?: { stuckAfterMs?: number; dueOnly?: boolean },
  ): Promise<LoadedTransaction[]>;
  /**
   * Transactions nobody is advancing, oldest first within each kind: unowned and due, unowned with
   * no wake-up at all, owned by a dead instance, owned by `self` and untouched for `selfGraceMs`,
   * or owned by anyone and untouched for `stuckAfterMs`. Each comes with its owner and whether it
   * was untouched for `stuckAfterMs` (`stalled`), so the caller can tell a live local driver waiting
   * on its calls from a stuck one.
   */
  findOrphans(
    deadOwners: string[],
    limit: number,
    stuck?: { self: string; selfGraceMs: number; stuckAfterMs: number },
  ): Promise<{ id: string; owner: string | null; stalled: boolean }[]>;
  /**
   * Flags an abort for the owning instance to act on, with the note it records: `flagged`;
   * `already` when an abort is flagged and not yet acted on (the first one's note is kept);
   * `decided` when the transaction is past its decision (nothing written).
   */
  requestAbort(id: string, note?: Record<string, unknown> | null): Promise<'flagged' | 'already' | 'decided'>;
  /** The note of a flagged abort. */
  abortNote(id: string): Promise<Record<string, unknown> | null>;
  /** Why the transaction aborted: the error its latest `transaction.aborting` event logged, or null. */
  abortReason(id: string): Promise<string | null>;
  list(filter: ListFilter): Promise<(TransactionRecord & { attention: Attention })[]>;
  /**
   * The current status of transactions updated at or after `since`, oldest update first (live-stream
   * catch-up), a page of `limit` after the change `after` (keyset: `at` is the exact stored time, as
   * returned with each change).
   */
  changedSince(
    since: Date,
    limit: number,
    after?: { at: string; id: string },
  ): Promise<{ change: StatusChange; at: string }[]>;
  /** How many transactions changed since `since` (updated_at at or after it), counted up to `cap`. */
  countChangedSince(since: Date, cap: number): Promise<number>;
  /** Per participant (or only `name`), how many transactions involving it are in flight and how many are `failed`. */
  countsByParticipant(name?: string): Promise<Map<string, { inFlight: number; failed: number }>>;
  /** Ids of `failed` transactions involving `participant` and/or among `ids`, oldest first, at most `limit`. */
  failedIds(filter: { participant?: string; ids?: string[] }, limit: number): Promise<string[]>;
  findIdempotencyKey(key: string): Promise<IdempotencyRecord | null>;
  /**
   * Claims a key for a request that is not a transaction start; false if it is taken. With
   * `staleAfterMs`, an unanswered claim of the same request is taken over once it is that old, or
   * at once when its holder is one of `deadHolders`: its request's process died.
   */
  claimIdempotencyKey(key: string, requestHash: string, expiresAt: Date, options?: KeyClaimOptions): Promise<boolean>;
  /** Forgets a claimed key whose request failed without an answer worth repeating. */
  releaseIdempotencyKey(key: string): Promise<void>;
  /** Drops expired Idempotency-Keys; returns how many. */
  expireIdempotencyKeys(): Promise<number>;
  /** Records this instance's heartbeat and returns the ids of instances whose heartbeat is older than `ttlMs`. */
  heartbeat(
    instance: { id: string; host: string; pid: number; processScope?: string | null; drives?: boolean },
    ttlMs: number,
  ): Promise<string[]>;
  /** The other instances that recorded `processScope` (same kernel boot and PID namespace): their pids can be checked. */
  instancesInScope(processScope: string, selfId: string): Promise<{ id: string; pid: number }[]>;
  /** Releases every transaction this instance owns (graceful shutdown): they become due now. */
  releaseAll(instanceId: string): Promise<number>;
}
