import type { Pool } from 'pg';
import { ParticipantHeaders } from '#contracts';
import {
  BusinessRejection,
  problem,
  ThreePhaseParticipant,
  threePhaseReply,
  verifySignature,
  type Barrier,
  type ThreePhaseEvent,
} from '#participant';
import type { PhaseAnswer } from '../http/phase-route';
import { sqlOfClient, type Ledger } from './ledger';
import { ledgerReply, type LedgerReply } from './ledger.handlers';

/** What the 3PC side of a ledger service needs. */
export interface LedgerThreePhaseOptions {
  pool: Pool;
  barrier: Barrier;
  /** The state table (one row per branch: voted, pre-committed, committed, aborted). */
  table: string;
  /** Delay after a call's `deadline` before the service acts on its own. */
  marginMs?: number;
  onEvent?: (event: ThreePhaseEvent) => void;
}

/**
 * The 3PC participant of a ledger service (the SDK's ThreePhaseParticipant, with its timers):
 * can-commit holds the change as 2PC prepare does and votes yes, pre-commit only marks the branch,
 * do-commit applies the hold, abort gives it back. A branch that voted and hears nothing before its
 * deadline aborts on its own; a pre-committed one commits on its own.
 */
export function ledgerThreePhase(
  ledger: Ledger,
  options: LedgerThreePhaseOptions,
): ThreePhaseParticipant<LedgerReply | undefined> {
  const reply = ledgerReply(ledger);
  return new ThreePhaseParticipant<LedgerReply | undefined>({
    pool: options.pool,
    barrier: options.barrier,
    table: options.table,
    marginMs: options.marginMs,
    work: {
      reserve: async (client, call) =>
        reply(await ledger.hold(sqlOfClient(client), call, ledger.spec.changeOf(call.payload))),
      apply: async (client, key) => reply(await ledger.settle(sqlOfClient(client), key, true)),
      release: async (client, key) => reply(await ledger.settle(sqlOfClient(client), key, false)),
    },
    onEvent: options.onEvent,
    onError: (error, key, decision) =>
      process.stderr.write(
        `demo: 3pc timer ${decision} of ${key.transactionId}/${key.branchId} failed, retrying: ${describe(error)}\n`,
      ),
  });
}

/**
 * Answers 3PC deliveries with `threePhase`, in the SDK's shapes ({@link threePhaseReply}; 500 for a
 * failure the coordinator retries).
 */
export function threePhaseAnswer(
  threePhase: ThreePhaseParticipant<LedgerReply | undefined>,
  secret: string | undefined,
): PhaseAnswer {
  return async (call, delivery) => {
    const signature = delivery.headers[ParticipantHeaders.signature];
    if (secret && !verifySignature(secret, signature, delivery.rawBody)) {
      return problem(401, 'invalid_signature', 'Unauthorized', `missing or invalid ${ParticipantHeaders.signature}`);
    }
    try {
      return threePhaseReply(await threePhase.handle(call), call.phase);
    } catch (error) {
      // a can-commit's no is kept by the barrier; one thrown here comes from a later phase's own rule
      if (error instanceof BusinessRejection) {
        return problem(409, 'business_rejection', 'Conflict', error.message, {
          kind: 'rejected',
          details: error.details,
        });
      }
      process.stderr.write(`demo: /3pc/${call.phase} failed (answered 500, retried): ${describe(error)}\n`);
      return problem(500, 'handler_failed', 'Internal Server Error', describe(error));
    }
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
