import { BROKER_PATH_HEADER, Phase, Protocol, type BrokerCallReply } from '#contracts';
import type { PhaseDispatcher } from './phase-dispatcher';
import { phasePath, protocolOfPhase, type PhaseKey } from './phase-route';

/** The brokers a participant can be served over (see docs/transports.md); RabbitMQ by either name. */
export type BrokerKind = 'nats' | 'redis' | 'rabbitmq' | 'rmq';

const PHASES = new Set<string>(Object.values(Phase));
const PROTOCOLS = new Set<string>(Object.values(Protocol));

/**
 * Answers one broker delivery (`{headers, body}` sent to `txn.<participant>.<phase>`) the way the
 * HTTP route would: the same signature check over the same body text, the same barrier, the same
 * status. The `txn-path` header picks a named action (`/saga/debit/action`); without it, or when it
 * names another phase, the phase's unnamed handler answers. Never throws: a malformed message is a
 * 400, which the coordinator retries.
 */
export async function answerBrokerMessage(
  dispatcher: PhaseDispatcher,
  phase: Phase,
  message: unknown,
): Promise<BrokerCallReply> {
  if (typeof message !== 'object' || message === null) return badRequest('message must be {headers, body}');
  const { headers, body } = message as { headers?: unknown; body?: unknown };
  if (typeof body !== 'string') return badRequest('body must be the envelope as JSON text');
  const lowered: Record<string, string> = {};
  if (typeof headers === 'object' && headers !== null) {
    for (const [name, value] of Object.entries(headers))
      if (typeof value === 'string') lowered[name.toLowerCase()] = value;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return badRequest('body is not JSON');
  }
  const reply = await dispatcher.dispatch(keyOf(phase, lowered[BROKER_PATH_HEADER]), {
    body: parsed,
    rawBody: body,
    headers: lowered,
  });
  return { status: reply.status, body: reply.body };
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

function badRequest(detail: string): BrokerCallReply {
  return { status: 400, body: { type: '/problems/invalid_call', title: 'Bad Request', status: 400, detail } };
}
