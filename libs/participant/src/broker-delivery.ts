import { BROKER_PATH_HEADER, Phase, Protocol, type ParticipantReply } from '#contracts';
import type { PhaseDispatcher } from './phase-dispatcher';
import { phasePath, protocolOfPhase, type PhaseKey } from './phase-route';

/** The brokers a participant can be served over (see docs/transports.md); RabbitMQ by either name. */
export type BrokerKind = 'nats' | 'redis' | 'rabbitmq' | 'rmq';

const PHASES = new Set<string>(Object.values(Phase));
const PROTOCOLS = new Set<string>(Object.values(Protocol));

/**
 * Answers one broker delivery sent to `txn.<participant>.<phase>` the way the HTTP route would: the
 * same signature check, the same barrier, the same status, given as the contract's
 * `{outcome, result}` (2xx yes, 409/422 no, anything else retry) with that `status` beside it.
 *
 * The message is the participant envelope with `headers` beside its fields (the signature covers the
 * envelope's JSON text: the message without `headers`, as `JSON.stringify` writes it), or, from a
 * coordinator before that form, `{headers, body}` with the envelope as JSON text. The `txn-path`
 * header picks a named action (`/saga/debit/action`); without it, or when it names another phase,
 * the phase's unnamed handler answers. Never throws: a malformed message is answered `retry` with a
 * 400 problem, which the coordinator asks again.
 */
export async function answerBrokerMessage(
  dispatcher: PhaseDispatcher,
  phase: Phase,
  message: unknown,
): Promise<ParticipantReply> {
  if (typeof message !== 'object' || message === null) return badRequest('message must be the envelope, with headers');
  const { headers, ...fields } = message as { headers?: unknown; body?: unknown };
  const lowered: Record<string, string> = {};
  if (typeof headers === 'object' && headers !== null) {
    for (const [name, value] of Object.entries(headers))
      if (typeof value === 'string') lowered[name.toLowerCase()] = value;
  }
  let parsed: unknown = fields;
  let rawBody: string;
  if (typeof fields.body === 'string' && !('transactionId' in fields)) {
    rawBody = fields.body; // {headers, body}: the envelope as the text it was signed as
    try {
      parsed = JSON.parse(rawBody);
    } catch {
      return badRequest('body is not JSON');
    }
  } else if (typeof (fields as { transactionId?: unknown }).transactionId === 'string') {
    rawBody = JSON.stringify(fields);
  } else {
    return badRequest('message must be the envelope (transactionId, phase, ...), with headers');
  }
  const reply = await dispatcher.dispatch(keyOf(phase, lowered[BROKER_PATH_HEADER]), {
    body: parsed,
    rawBody,
    headers: lowered,
  });
  return replyOf(reply.status, reply.body);
}

/** The contract's reply for what the HTTP route would have answered. */
function replyOf(status: number, body: unknown): ParticipantReply {
  const outcome = status >= 200 && status < 300 ? 'yes' : status === 409 || status === 422 ? 'no' : 'retry';
  return { outcome, result: body, status };
}

/**
 * The handler key a path names (`/{protocol}/{phase}` or `/{protocol}/{name}/{phase}`), when it is
 * a phase path of `phase`; else the unnamed handler of `phase`. The protocol tells a message's
 * `/msg/action` from a saga's `/saga/action`, which share the pattern `txn.<participant>.action`.
 */
function keyOf(phase: Phase, path: string | undefined): PhaseKey {
  const parts = path?.split('/') ?? [];
  if ((parts.length === 3 || parts.length === 4) && parts[parts.length - 1] === phase && PHASES.has(phase)) {
    // the protocol is named only where the phase alone would mean another (`/msg/action`)
    const named = parts[1] as Protocol;
    const own = PROTOCOLS.has(named) && protocolOfPhase(phase) !== named ? { protocol: named } : {};
    const key: PhaseKey = parts.length === 4 ? { phase, ...own, name: parts[2] } : { phase, ...own };
    try {
      if (phasePath(key) === path) return key;
    } catch {
      // not a protocol or action name: fall through to the unnamed handler, which answers 404 if there is none
    }
  }
  return { phase };
}

function badRequest(detail: string): ParticipantReply {
  return replyOf(400, { type: '/problems/invalid_call', title: 'Bad Request', status: 400, detail });
}
