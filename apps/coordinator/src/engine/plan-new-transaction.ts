import {
  Mode,
  Protocol,
  SETTLED_STATUSES,
  TransactionStatus,
  UnsupportedProtocolError,
  type StartTransactionRequest,
} from '#contracts';
import { MACHINES, nextWakeAt, type CallCommand, type TransactionState } from '#protocol';
import type { CreateOp, LoadedTransaction, NewEvent } from '#store';
import { branchFields, timelineOf, toMachineState } from './state-mapping';
import { uuidV7 } from './uuid-v7';
import { branchRecords } from './branch-records';

const INTERACTIVE_PROTOCOLS: readonly Protocol[] = [Protocol.Tcc, Protocol.TwoPhase];

/** A new transaction as it is to be written, and what its writer does once it is. */
export interface NewTransactionPlan {
  id: string;
  /** When it was created: the `at` of its first events and its `createdAt`. */
  at: Date;
  state: TransactionState;
  /** The first calls, announced by the write: the owner makes them once it is durable. */
  commands: CallCommand[];
  events: NewEvent[];
  settled: boolean;
  /** Whether the write makes this instance its owner (else it is left for whoever is woken). */
  owned: boolean;
  /** When it is due next, in ms (null once settled). */
  wake: number | null;
  op: CreateOp;
}

/**
 * Decides a new transaction's start with its protocol's machine and builds the one write that
 * stores it with its branches, its first events and the calls they announce. Reads nothing and
 * writes nothing: a request no machine can drive is refused before anything is stored. An
 * instance that does not drive (`api` role) writes it pending, unowned and due at once.
 */
export function planNewTransaction(
  request: StartTransactionRequest,
  requestHash: string,
  idempotency: CreateOp['idempotency'],
  actor: string | null,
  writer: { drives: boolean; instanceId: string },
): NewTransactionPlan {
  const machine = MACHINES[request.protocol];
  if (!machine) throw new UnsupportedProtocolError(`protocol "${request.protocol}"`);
  if (request.mode === Mode.Interactive && !INTERACTIVE_PROTOCOLS.includes(request.protocol)) {
    throw new UnsupportedProtocolError(`interactive mode for ${request.protocol} (only tcc and 2pc)`);
  }
  const id = request.id ?? uuidV7();
  const now = Date.now();
  const records = branchRecords(request, now);
  const initial = toMachineState(
    {
      status: TransactionStatus.Pending,
      mode: request.mode,
      decision: null,
      deadline: new Date(now + request.timeoutMs),
      retry: request.retry,
      error: null,
    } as LoadedTransaction['txn'],
    records,
  );
  const { state, commands } = writer.drives
    ? machine.decide(initial, { type: 'start' }, now)
    : { state: initial, commands: [] };
  const settled = SETTLED_STATUSES.includes(state.status);
  const at = new Date(now);
  const events = [
    {
      seq: 1,
      at,
      type: 'transaction.created',
      branchId: null,
      phase: null,
      attempt: null,
      outcome: null,
      // the branches asked for: a message's check rides as a branch row of its own, not counted
      detail: { protocol: request.protocol, mode: request.mode, branches: request.branches.length, actor },
    },
    ...timelineOf(initial, state, { type: 'start' }, null, commands, 1, at),
  ];
  // an owner with nothing to call (interactive mode, or the api role) lets go at once and is woken
  const owned = writer.drives && !settled && commands.length > 0;
  const wake = settled ? null : writer.drives ? nextWakeAt(state) : now;
  const op: CreateOp = {
    op: 'create',
    txn: {
      id,
      protocol: request.protocol,
      mode: request.mode,
      status: state.status,
      decision: state.decision,
      timeoutMs: request.timeoutMs,
      deadline: new Date(state.deadline),
      retry: request.retry,
      requestHash,
      participants: [...new Set(records.map((b) => b.participant))],
      error: state.error,
      owner: owned ? writer.instanceId : null,
      wakeAt: toDate(wake),
      createdAt: at,
    },
    branches: records.map((b) => ({ ...b, ...branchFields(state, b.id) })),
    events,
    idempotency,
  };
  return { id, at, state, commands, events, settled, owned, wake, op };
}

function toDate(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}
