import type { DataSource } from 'typeorm';
import { FORWARD_PHASES, Phase, ParticipantHeaders, Protocol } from '#contracts';
import { Barrier } from './barrier';
import { BusinessRejection } from './business-rejection';
import type { HandlerRegistry, PhaseHandlerContext } from './handler-registry';
import { problem, success, type PhaseReply } from './phase-reply';
import type { CheckResponder } from './outbox';
import { phasePath, protocolOfKey, type PhaseKey } from './phase-route';
import { inPhaseSpan } from './phase-trace';
import { verifySignature } from './signature';
import { threePhaseReply, type ThreePhaseHandlers } from './three-phase-handlers';
import type { ThreePhaseParticipant } from './three-phase-participant';
import { runBarrierWithManager } from './typeorm-local-transaction';

/** One delivery as a transport received it. */
export interface PhaseDelivery {
  /** The parsed JSON body (the participant-call envelope). */
  body: unknown;
  /** The exact body text as received: the signature covers these bytes, not a re-serialisation. */
  rawBody: string;
  /** Request headers, names in lower case. */
  headers: Record<string, string | string[] | undefined>;
}

/** What a {@link PhaseDispatcher} needs. */
export interface PhaseDispatcherOptions {
  registry: HandlerRegistry;
  /** A Postgres DataSource; the barrier table lives in it, next to the business tables. */
  dataSource: DataSource;
  /** Default: `new Barrier()` on table `txc_barrier`. */
  barrier?: Barrier;
  /** When set, every delivery must carry a valid `Txn-Signature` made with it. */
  secret?: string;
  /** Told about every handler failure answered 500 (the coordinator retries it). */
  onError?: (error: unknown, path: string) => void;
  /** Unix milliseconds, for the signature's age check. Default `Date.now`. */
  now?: () => number;
  /** A message sender's outbox: answers the `check` phase from its markers. */
  outbox?: CheckResponder;
  /** Runs the 3PC phases of the actions it has, with the participant-side timers. */
  threePhase?: ThreePhaseHandlers;
}

/**
 * Answers phase deliveries: checks the signature, then runs the phase's handler behind the barrier
 * in one local transaction, and turns the verdict into the reply the coordinator reads.
 *
 * Guarantees (from the barrier): a handler's effects commit at most once per transaction, branch
 * and phase; an undo that arrives before its forward phase does nothing and fences it off; a
 * forward phase's no is final. A delivery refused before the barrier (bad signature, bad envelope,
 * no handler) changes nothing and is answered with a status the coordinator retries.
 */
export class PhaseDispatcher {
  private readonly barrier: Barrier;
  private readonly now: () => number;

  constructor(private readonly options: PhaseDispatcherOptions) {
    this.barrier = options.barrier ?? new Barrier();
    this.now = options.now ?? Date.now;
  }

  /**
   * Answers one delivery of the phase (and action name) `key`. Never throws. A delivery carrying a
   * `traceparent` runs in a span continuing the coordinator's trace (see {@link inPhaseSpan}).
   */
  dispatch(key: PhaseKey, delivery: PhaseDelivery): Promise<PhaseReply> {
    return inPhaseSpan(key, delivery.headers, delivery.body, () => this.answer(key, delivery));
  }

  private async answer(key: PhaseKey, delivery: PhaseDelivery): Promise<PhaseReply> {
    const path = phasePath(key);
    const registered = this.options.registry.entry(key);
    const handler = registered?.handler;
    const checking = key.phase === Phase.Check && this.options.outbox;
    // a 3PC action answers every phase, whether or not that phase has a handler of its own
    const threePhase = this.options.threePhase?.of(key);
    if (!handler && !checking && !threePhase) return problem(404, 'no_handler', 'No handler', `no handler for ${path}`);
    const { secret } = this.options;
    const signature = delivery.headers[ParticipantHeaders.signature];
    if (secret && !verifySignature(secret, signature, delivery.rawBody, Math.floor(this.now() / 1000))) {
      // 401 is retried by the coordinator: a secret rotated on one side only heals once both agree
      return problem(401, 'invalid_signature', 'Unauthorized', `missing or invalid ${ParticipantHeaders.signature}`);
    }
    if (checking) return this.answerCheck(delivery.body);
    const call = parseEnvelope(delivery.body, key);
    if (typeof call === 'string') return problem(400, 'invalid_call', 'Bad Request', call);
    if (threePhase) return this.answerThreePhase(threePhase, call, path);

    try {
      const result = registered!.barrier
        ? await runBarrierWithManager(this.options.dataSource, this.barrier, call, async (manager) =>
            handler!({ ...call, manager }),
          )
        : // fenced by itself (PostgresXa): its own log makes each phase exactly-once
          { kind: 'applied' as const, value: await handler!({ ...call, manager: this.options.dataSource.manager }) };
      switch (result.kind) {
        case 'applied':
          return success(
            result.value === undefined ? { kind: result.kind } : { kind: result.kind, result: result.value },
          );
        case 'duplicate':
        case 'null-compensation':
          return success({ kind: result.kind });
        case 'refused': {
          // a definite no: the undo already ran (this late forward phase must never apply, or apply
          // again), a confirm or commit arrived first (reordered), or the branch was completed the
          // other way (a confirm after its cancel, a cancel after its confirm)
          const why = FORWARD_PHASES.includes(key.phase)
            ? 'the branch was already undone, or completed before it'
            : 'the branch was already completed the other way';
          return problem(409, 'phase_refused', 'Conflict', `${key.phase} refused: ${why}`, { kind: result.kind });
        }
        case 'rejected':
          // the first delivery's no, or this one's: the barrier recorded it, so it is answered alike every time
          return problem(409, 'business_rejection', 'Conflict', result.reason, rejectionExtra(result.details));
      }
    } catch (error) {
      // only an undo or completion phase gets here with a rejection (the barrier keeps forward ones);
      // its 409 is not a no to the coordinator, which retries it
      if (error instanceof BusinessRejection) {
        return problem(409, 'business_rejection', 'Conflict', error.message, rejectionExtra(error.details));
      }
      this.options.onError?.(error, path);
      return problem(500, 'handler_failed', 'Internal Server Error', describe(error));
    }
  }

  /** A 3PC phase, through the participant that keeps the branch's state and timer. */
  private async answerThreePhase(
    threePhase: ThreePhaseParticipant<unknown>,
    call: ParsedCall,
    path: string,
  ): Promise<PhaseReply> {
    try {
      return threePhaseReply(await threePhase.handle(call), call.phase);
    } catch (error) {
      // a no of the 3PC rules (too late, never voted) or of a handler: 409, a no to a forward phase
      if (error instanceof BusinessRejection) {
        return problem(409, 'business_rejection', 'Conflict', error.message, rejectionExtra(error.details));
      }
      this.options.onError?.(error, path);
      return problem(500, 'handler_failed', 'Internal Server Error', describe(error));
    }
  }

  /**
   * A message's check: the outbox's marker answers it (writing `rolledback` first if the sender's
   * transaction never committed one). Anything that fails is a 500: no answer, asked again.
   */
  private async answerCheck(body: unknown): Promise<PhaseReply> {
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const id = b.transactionId;
    if (typeof id !== 'string' || id.length === 0 || id.length > 256) {
      return problem(400, 'invalid_call', 'Bad Request', 'transactionId must be a string of 1-256 characters');
    }
    if (b.phase !== undefined && b.phase !== Phase.Check) {
      return problem(400, 'invalid_call', 'Bad Request', `phase ${JSON.stringify(b.phase)} sent to the check route`);
    }
    // the check writes a marker when it finds none: a call of another protocol must not
    if (b.protocol !== undefined && b.protocol !== Protocol.Msg) {
      return problem(
        400,
        'invalid_call',
        'Bad Request',
        `protocol ${JSON.stringify(b.protocol)} sent to the check route`,
      );
    }
    try {
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: await this.options.outbox!.check(id, {
          deadline: typeof b.deadline === 'string' ? b.deadline : undefined,
        }),
      };
    } catch (error) {
      this.options.onError?.(error, 'check');
      return problem(500, 'check_failed', 'Internal Server Error', describe(error));
    }
  }
}

function rejectionExtra(details: Record<string, unknown> | undefined) {
  return details === undefined ? { kind: 'rejected' as const } : { kind: 'rejected' as const, details };
}

/** The envelope fields a handler gets, or why the body is not a participant call for `phase`. */
type ParsedCall = Omit<PhaseHandlerContext, 'manager'>;

/**
 * Checks the participant-call envelope. The payload is left to the handler, so a malformed payload
 * on an undo phase can still be a null compensation.
 */
function parseEnvelope(body: unknown, key: PhaseKey): ParsedCall | string {
  const phase = key.phase;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body must be a JSON object';
  const b = body as Record<string, unknown>;
  for (const field of ['transactionId', 'branchId'] as const) {
    const value = b[field];
    if (typeof value !== 'string' || value.length === 0 || value.length > 256) {
      return `${field} must be a string of 1-256 characters`;
    }
  }
  if (b.phase !== undefined && b.phase !== phase) return `phase ${JSON.stringify(b.phase)} sent to the ${phase} route`;
  const protocol = protocolOfKey(key);
  if (b.protocol !== undefined && b.protocol !== protocol) {
    return `protocol ${JSON.stringify(b.protocol)} sent to a ${protocol} route`;
  }
  if (b.attempt !== undefined && !(Number.isSafeInteger(b.attempt) && (b.attempt as number) >= 1)) {
    return 'attempt must be a positive integer';
  }
  if (b.deadline !== undefined && (typeof b.deadline !== 'string' || Number.isNaN(Date.parse(b.deadline)))) {
    return 'deadline must be an ISO time';
  }
  return {
    transactionId: b.transactionId as string,
    branchId: b.branchId as string,
    protocol,
    phase,
    attempt: (b.attempt as number | undefined) ?? 1,
    ...(b.deadline === undefined ? {} : { deadline: b.deadline as string }),
    payload: b.payload,
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
