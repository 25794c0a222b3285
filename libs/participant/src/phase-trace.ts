import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, trace, type SpanContext } from '@opentelemetry/api';
import type { PhaseKey } from './phase-route';
import type { PhaseReply } from './phase-reply';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span context a W3C `traceparent` header names, or null when it is absent or malformed. */
export function parseTraceparent(value: string | string[] | undefined): SpanContext | null {
  const m = typeof value === 'string' ? TRACEPARENT.exec(value.trim()) : null;
  if (!m || /^0+$/.test(m[1]) || /^0+$/.test(m[2])) return null;
  return { traceId: m[1], spanId: m[2], traceFlags: parseInt(m[3], 16) & 1, isRemote: true };
}

/**
 * Runs one phase delivery in a `txc.participant <phase>` span that continues the coordinator's trace
 * (the `traceparent` the call carried), with the transaction id, protocol, branch, phase, attempt
 * and the answer's outcome (and barrier verdict) as attributes. The handler runs with that span
 * active, so spans the application makes inside it (its database client's, say) nest under it.
 * Spans are recorded only if the application registered an OpenTelemetry tracer provider; a
 * delivery without `traceparent` is not traced.
 */
export async function inPhaseSpan(
  key: PhaseKey,
  headers: Record<string, string | string[] | undefined>,
  body: unknown,
  answer: () => Promise<PhaseReply>,
): Promise<PhaseReply> {
  const parent = parseTraceparent(headers.traceparent);
  if (!parent) return answer();
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const attributes: Record<string, string | number> = { 'txc.phase': key.phase };
  if (typeof b.transactionId === 'string') attributes['txc.transaction.id'] = b.transactionId;
  if (typeof b.protocol === 'string') attributes['txc.protocol'] = b.protocol;
  if (typeof b.branchId === 'string') attributes['txc.branch'] = b.branchId;
  if (typeof b.attempt === 'number') attributes['txc.attempt'] = b.attempt;
  const span = trace
    .getTracer('txc-participant')
    .startSpan(
      `txc.participant ${key.phase}`,
      { kind: SpanKind.SERVER, attributes },
      trace.setSpanContext(ROOT_CONTEXT, parent),
    );
  try {
    const reply = await context.with(trace.setSpan(context.active(), span), answer);
    span.setAttribute('txc.outcome', outcomeOf(reply.status));
    span.setAttribute('http.response.status_code', reply.status);
    const kind = (reply.body as { kind?: unknown } | null)?.kind;
    if (typeof kind === 'string') span.setAttribute('txc.barrier', kind);
    if (reply.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    return reply;
  } finally {
    span.end();
  }
}

/** What the coordinator makes of the reply's status (409 is a no from a forward phase). */
function outcomeOf(status: number): 'yes' | 'no' | 'unknown' {
  if (status >= 200 && status < 300) return 'yes';
  return status === 409 || status === 422 ? 'no' : 'unknown';
}
