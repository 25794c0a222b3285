import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace, type Span } from '@opentelemetry/api';
import { Outcome } from '#contracts';
import { startingRootOf, tracingEnabled } from './otlp-tracing';

/** Span attribute names (one vocabulary with the API and the log). */
export const TraceAttributes = {
  transactionId: 'txc.transaction.id',
  protocol: 'txc.protocol',
  status: 'txc.status',
  branch: 'txc.branch',
  participant: 'txc.participant',
  phase: 'txc.phase',
  attempt: 'txc.attempt',
  outcome: 'txc.outcome',
  httpStatus: 'http.response.status_code',
} as const;

const tracer = () => trace.getTracer('txc-coordinator');

/** One call's span: the header to send, and how to end it with the answer (null: no answer to record). */
export interface CallSpan {
  traceparent: string | undefined;
  finish(result: { outcome: Outcome; httpStatus: number | null; error: string | null } | null): void;
}

/** What a traced participant call is. */
interface TracedCall {
  branch: string;
  participant: string;
  phase: string;
  attempt: number;
}

/**
 * The spans of one transaction while this instance drives it: `txc.transaction` for the activation
 * (made at its first call, or at its end when it made none, and starting when the activation
 * began), and a `txc.call <phase>` child per participant call, whose context is sent to the
 * participant as `traceparent`. With tracing off it does nothing.
 */
export class TransactionTrace {
  private span: Span | null = null;
  /** When the activation began: its span starts there, made at its first call or at its end. */
  private readonly startedAt = Date.now();
  private ended = false;

  constructor(
    private readonly id: string,
    private readonly protocol: string,
  ) {}

  /**
   * Starts the span of one participant call as it goes out; its `traceparent` (undefined with
   * tracing off) is sent with the call, and `finish` records the answer's outcome and ends it.
   */
  startCall(what: TracedCall): CallSpan {
    if (!tracingEnabled()) return { traceparent: undefined, finish: () => undefined };
    const span = tracer().startSpan(
      `txc.call ${what.phase}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [TraceAttributes.transactionId]: this.id,
          [TraceAttributes.protocol]: this.protocol,
          [TraceAttributes.branch]: what.branch,
          [TraceAttributes.participant]: what.participant,
          [TraceAttributes.phase]: what.phase,
          [TraceAttributes.attempt]: what.attempt,
        },
      },
      trace.setSpan(ROOT_CONTEXT, this.root()),
    );
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
    return {
      traceparent: carrier.traceparent,
      finish(result) {
        if (result) {
          span.setAttribute(TraceAttributes.outcome, result.outcome);
          if (result.httpStatus !== null) span.setAttribute(TraceAttributes.httpStatus, result.httpStatus);
          if (result.outcome === Outcome.Unknown) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: result.error ?? '' });
          }
        }
        span.end();
      },
    };
  }

  /**
   * Ends the activation's span with the status the transaction has now (its outcome once settled).
   * An activation that made no call gets its span here: every activation has one.
   */
  end(status: string): void {
    if (this.ended || !tracingEnabled()) return;
    this.ended = true;
    this.span ??= this.root();
    this.span.setAttribute(TraceAttributes.status, status);
    this.span.setAttribute(TraceAttributes.outcome, status);
    this.span.end();
    this.span = null;
  }

  private root(): Span {
    // its trace id is derived from the transaction id
    this.span ??= startingRootOf(this.id, () =>
      tracer().startSpan('txc.transaction', {
        kind: SpanKind.INTERNAL,
        startTime: this.startedAt,
        attributes: { [TraceAttributes.transactionId]: this.id, [TraceAttributes.protocol]: this.protocol },
      }),
    );
    return this.span;
  }
}
