import { createHash, randomBytes } from 'node:crypto';
import { propagation, trace } from '@opentelemetry/api';

let enabled = false;
/** The transaction whose root span is being started, if any (see {@link TransactionTraceIds}). */
let rootOf: string | null = null;

/** Starts a transaction's root span with `start`: its trace id is derived from `txId`. */
export function startingRootOf<T>(txId: string, start: () => T): T {
  rootOf = txId;
  try {
    return start();
  } finally {
    rootOf = null;
  }
}

/** Whether spans are recorded and exported (OTEL_EXPORTER_OTLP_ENDPOINT was set at start). */
export function tracingEnabled(): boolean {
  return enabled;
}

/**
 * Starts exporting spans over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; returns how to flush and stop, or null when tracing
 * stays off. Off, the OpenTelemetry SDK is never loaded (only the no-op API is), no span is made
 * and no `traceparent` is sent. The exporter reads the standard OTEL_EXPORTER_OTLP_* variables
 * (endpoint, headers, timeout); OTEL_SERVICE_NAME names the service (default `txc-coordinator`).
 */
export async function startTracing(env: NodeJS.ProcessEnv = process.env): Promise<(() => Promise<void>) | null> {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return null;
  const [{ BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, core] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/core'),
    ]);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME ?? 'txc-coordinator' }),
    idGenerator: new TransactionTraceIds(),
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter(), {
        scheduledDelayMillis: Number(env.OTEL_BSP_SCHEDULE_DELAY ?? 1_000),
      }),
    ],
  });
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
  enabled = true;
  return async () => {
    await provider.forceFlush().catch(() => undefined);
    await provider.shutdown().catch(() => undefined);
  };
}

/**
 * Trace ids for root spans: a transaction's root span (see {@link startingRootOf}) takes a trace id
 * derived from the transaction id, so every activation of a transaction (its start, a resume after a
 * wake-up, a take-over by another instance) lands in the same trace. Other root spans get random ids.
 */
class TransactionTraceIds {
  generateTraceId(): string {
    const txId = rootOf;
    return txId ? createHash('sha256').update(txId).digest('hex').slice(0, 32) : randomBytes(16).toString('hex');
  }

  generateSpanId(): string {
    return randomBytes(8).toString('hex');
  }
}
