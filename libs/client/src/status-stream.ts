import { backoffDelay, sleep } from './backoff';
import { CoordinatorError, type StatusChange } from './contracts';
import type { HttpTransport } from './http-transport';
import { CoordinatorUnreachableError } from './problem-errors';
import { SseParser } from './sse-parser';

/** Options of {@link CoordinatorClient.stream}. */
export interface StreamOptions {
  /** Resume after this event (an `eventId` seen before): the changes since then come first. */
  lastEventId?: string | null;
  /** Ends the iteration (as breaking out of the loop does). */
  signal?: AbortSignal;
  /** Reconnects in a row that may fail before the iterator throws (default: no limit). */
  maxReconnects?: number;
  /**
   * Wait before a reconnect: the server's `retry:` (else `initialMs`, default 500 ms) doubled per
   * failure in a row, never more than `maxMs` (default 30 s), with jitter.
   */
  reconnect?: { initialMs?: number; maxMs?: number };
  /** Silence after which the connection is taken for dead and reopened (default 45 s; the server pings every 15 s). */
  idleTimeoutMs?: number;
  /**
   * Called when the server sends `event: reset`: it could not replay what changed since
   * `lastEventId` (too much changed, or its log could not be read), so changes in between were
   * skipped. Reload what you show (e.g. list the transactions again); the stream goes on from now.
   */
  onReset?: () => void;
}

/** One status change of the live stream, with the id to resume after it. */
export interface StreamedStatusChange extends StatusChange {
  /** The event's id: pass it as `lastEventId` to resume after this change. */
  eventId: string | null;
}

/**
 * The live stream (`GET /v1/stream`) as an async iterator of status changes. Guarantees: after a
 * dropped connection (network error, end of the response, silence past `idleTimeoutMs`, a retryable
 * error answer) it reconnects with `Last-Event-ID` set to the last event received, so no final
 * status is missed (a change may come twice, as the server documents) unless the server says it
 * could not replay them (`onReset`); an answer that will not
 * change by retrying (401, 403) is thrown; breaking out of the loop, or `signal`, aborts the
 * request and ends the iteration.
 */
export async function* streamStatusChanges(
  transport: HttpTransport,
  options: StreamOptions = {},
  random: () => number = Math.random,
): AsyncGenerator<StreamedStatusChange, void, undefined> {
  const stop = new AbortController();
  const onAbort = () => stop.abort(options.signal?.reason);
  if (options.signal?.aborted) return;
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const idleTimeoutMs = options.idleTimeoutMs ?? 45_000;
  const maxReconnects = options.maxReconnects ?? Infinity;
  let lastEventId = options.lastEventId || null;
  let serverRetryMs: number | undefined;
  let failures = 0;
  try {
    while (!stop.signal.aborted) {
      const connection = new AbortController();
      const cut = () => connection.abort();
      stop.signal.addEventListener('abort', cut, { once: true });
      let idle: ReturnType<typeof setTimeout> | undefined;
      const watch = () => {
        clearTimeout(idle);
        idle = setTimeout(cut, idleTimeoutMs);
      };
      let lastError: unknown;
      try {
        watch();
        const headers: Record<string, string> = { accept: 'text/event-stream' };
        if (lastEventId) headers['last-event-id'] = lastEventId;
        const res = await transport.open('/v1/stream', headers, connection.signal);
        failures = 0;
        if (!res.body) throw new CoordinatorUnreachableError('the stream answer has no body');
        const reader = res.body.getReader();
        // a cut ends a pending read even with a fetch that does not tie its body to the signal
        connection.signal.addEventListener('abort', () => reader.cancel().catch(() => undefined), { once: true });
        const decoder = new TextDecoder();
        const parser = new SseParser();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            watch();
            for (const event of parser.push(decoder.decode(value, { stream: true }))) {
              lastEventId = event.id || lastEventId;
              if (event.event === 'reset') options.onReset?.();
              const change = event.event === 'status' ? parseChange(event.data) : null;
              if (change) yield { ...change, eventId: event.id };
            }
            serverRetryMs = parser.retryMs ?? serverRetryMs;
            lastEventId = parser.lastEventId || lastEventId;
          }
        } finally {
          // reached on a drop and when the caller breaks out: either way, stop reading this connection
          reader.cancel().catch(() => undefined);
        }
      } catch (error) {
        if (stop.signal.aborted) return;
        if (error instanceof CoordinatorError && !error.retryable) throw error;
        lastError = error;
      } finally {
        clearTimeout(idle);
        stop.signal.removeEventListener('abort', cut);
        connection.abort();
      }
      failures++;
      if (failures > maxReconnects) {
        throw lastError instanceof CoordinatorError
          ? lastError
          : new CoordinatorUnreachableError(`the stream dropped ${failures} times in a row`, lastError);
      }
      const initial = serverRetryMs ?? options.reconnect?.initialMs ?? 500;
      const max = Math.max(initial, options.reconnect?.maxMs ?? 30_000);
      await sleep(backoffDelay(failures, { initialBackoffMs: initial, maxBackoffMs: max }, random), stop.signal).catch(
        () => undefined,
      );
    }
  } finally {
    stop.abort();
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** A `status` event's data; null for one that is not a status change (skipped rather than ending the stream). */
function parseChange(data: string): StatusChange | null {
  try {
    const change = JSON.parse(data) as StatusChange;
    return typeof change?.id === 'string' && typeof change.status === 'string' ? change : null;
  } catch {
    return null;
  }
}
