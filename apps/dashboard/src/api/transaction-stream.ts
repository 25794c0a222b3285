import { readProblem } from './api-client';
import { SseParser } from './sse-parser';
import type { Problem, StatusEvent } from './wire-types';

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'stopped';

export interface TransactionStreamOptions {
  headers: () => Record<string, string>;
  onEvent: (event: StatusEvent) => void;
  onState: (state: StreamState) => void;
  /** 401: the key is no longer valid; the stream stops. (403, a role that may not watch, stops it too.) */
  onUnauthorized: (problem: Problem) => void;
  /** The coordinator could not replay everything since the last id (`event: reset`): reload views. */
  onReset: () => void;
  /** Logged reasons for drops, for the curious (console). */
  onDrop?: (reason: string) => void;
}

const MIN_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 5_000;

/**
 * Reads `GET /v1/stream` with fetch (EventSource cannot send Authorization) for as long as it is
 * not stopped. After a drop it reconnects with `Last-Event-ID` set to the last id received, waiting
 * 1 s, then twice as long each time up to 5 s; a connection that was accepted resets the wait.
 * Answers the function that stops it.
 */
export function openTransactionStream(options: TransactionStreamOptions): () => void {
  const controller = new AbortController();
  let lastEventId: string | null = null;

  const run = async () => {
    let backoff = MIN_BACKOFF_MS;
    options.onState('connecting');
    while (!controller.signal.aborted) {
      let accepted = false;
      try {
        const response = await fetch('/v1/stream', {
          headers: {
            accept: 'text/event-stream',
            ...options.headers(),
            ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
          },
          cache: 'no-store',
          signal: controller.signal,
        });
        if (response.status === 401) {
          options.onUnauthorized(await readProblem(response, 'GET', '/v1/stream'));
          break;
        }
        if (response.status === 403) {
          // this key's role may not watch (a participant key): asking again changes nothing
          options.onDrop?.((await readProblem(response, 'GET', '/v1/stream')).detail ?? 'forbidden');
          break;
        }
        if (!response.ok || !response.body) throw new Error(`GET /v1/stream answered ${response.status}`);
        accepted = true;
        options.onState('live');
        const parser = new SseParser();
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const message of parser.push(value)) {
            lastEventId = message.lastEventId ?? lastEventId;
            if (message.event === 'status') dispatch(message.data, options.onEvent);
            else if (message.event === 'reset') options.onReset();
          }
          // an id without data (the one a new connection starts with) counts too
          lastEventId = parser.lastEventId ?? lastEventId;
        }
        throw new Error('stream ended');
      } catch (error) {
        if (controller.signal.aborted) break;
        options.onDrop?.((error as Error).message);
      }
      options.onState('reconnecting');
      if (accepted) backoff = MIN_BACKOFF_MS;
      await sleep(backoff, controller.signal);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
    options.onState('stopped');
  };
  void run();
  return () => controller.abort();
}

function dispatch(data: string, onEvent: (event: StatusEvent) => void): void {
  try {
    const event = JSON.parse(data) as StatusEvent;
    if (event && typeof event.id === 'string') onEvent(event);
  } catch {
    // a malformed event is skipped; the next full refetch shows the truth
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = window.setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      window.clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
