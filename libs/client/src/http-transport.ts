import { backoffDelay, retryAfterMs, sleep } from './backoff';
import {
  DEFAULT_TRY_TIMEOUT_MS,
  resolveRetry,
  type CallOptions,
  type CoordinatorClientOptions,
  type RetryPolicyOptions,
} from './client-options';
import { coordinatorBaseUrl, Limits, type CoordinatorError } from './contracts';

/** The longest `wait` the coordinator takes. */
const MAX_WAIT_MS = Limits.maxWaitMs;
/** The longest delay a Node timer takes. */
const MAX_TIMER_MS = 2_147_483_647;
import { CoordinatorUnreachableError, errorFromAnswer, errorFromProblem, wasRefused } from './problem-errors';

/** What an API key may hold: visible ASCII, as a bearer token does (a line break would break the header). */
const API_KEY_SHAPE = /^[\x21-\x7e]+$/;

/**
 * Whether a call may be sent again after a failure that leaves its effect unknown (the connection
 * broke before the answer arrived):
 * - `safe`: reads, and calls whose repeat changes nothing more (heartbeat, delete);
 * - `keyed`: mutating calls sent with an `Idempotency-Key`, so a repeat gets the first one's answer;
 * - `unsafe`: repeated only when nothing can have been written (connection refused, or an answer
 *   that says so, such as busy); a 503 `store_unavailable` does not say so (the write may land).
 */
export type RepeatSafety = 'safe' | 'keyed' | 'unsafe';

/** One call to the coordinator's HTTP API. */
export interface HttpRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path below the base URL, with its segments already encoded: `/v1/transactions/order%2F1`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** JSON body; left out, nothing is sent. */
  body?: unknown;
  repeat: RepeatSafety;
  options?: CallOptions;
}

/** A 2xx answer. */
export interface HttpAnswer<T> {
  status: number;
  headers: Headers;
  /** The parsed JSON body, null for an empty one (204). */
  body: T;
}

/**
 * The client's HTTP layer over fetch: authorization, JSON in and out, error answers turned into
 * the contracts' error classes, and retries. Guarantees: a retry sends the same bytes with the same
 * `Idempotency-Key` as the first try, so a keyed call takes effect at most once however often it is
 * retried; only errors flagged `retryable` (and connection failures of calls safe to repeat) are
 * retried, at most `maxAttempts` tries in all; a 4xx answer about the request itself is thrown at
 * once, except a DELETE's 404 after a try whose answer was lost (that try did the delete).
 */
export class HttpTransport {
  private readonly base: string;
  private readonly fetchFn: typeof fetch;
  /** The retry policy in force. */
  readonly retry: RetryPolicyOptions;
  private readonly tryTimeoutMs: number;
  private readonly apiKey: string | undefined;

  constructor(
    options: CoordinatorClientOptions,
    private readonly random: () => number = Math.random,
  ) {
    this.base = coordinatorBaseUrl(options.url, 'url');
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
    this.retry = resolveRetry(options.retry);
    this.tryTimeoutMs = options.timeoutMs ?? DEFAULT_TRY_TIMEOUT_MS;
    // trimmed as fetch trims a header value (a key read from a file ends with a line break); anything
    // else a header cannot carry is refused here, once, and without the key in the message: fetch's
    // own error quotes the whole header, secret included, and would be retried as a network failure
    this.apiKey = options.apiKey?.trim() || undefined;
    if (this.apiKey !== undefined && !API_KEY_SHAPE.test(this.apiKey)) {
      throw new TypeError(
        'apiKey holds a character an HTTP header cannot carry (a line break, a space, a control character ' +
          'or a non-ASCII letter): check how the key was read',
      );
    }
    if (!(Number.isInteger(this.tryTimeoutMs) && this.tryTimeoutMs > 0 && this.tryTimeoutMs <= MAX_TIMER_MS)) {
      throw new RangeError('timeoutMs must be a whole, positive number of milliseconds');
    }
  }

  /** Sends `request`, retrying transient failures; resolves with a 2xx answer or rejects with a typed error. */
  async request<T>(request: HttpRequest): Promise<HttpAnswer<T>> {
    const signal = request.options?.signal;
    const key =
      request.repeat === 'keyed' ? (request.options?.idempotencyKey ?? globalThis.crypto.randomUUID()) : undefined;
    const url = this.url(request.path, request.query);
    const init: RequestInit = {
      method: request.method,
      headers: this.headers({
        accept: 'application/json, application/problem+json',
        ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(key ? { 'idempotency-key': key } : {}),
      }),
      // serialised once: every retry sends the same bytes, as the Idempotency-Key requires
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
    };
    // a `?wait` holds the answer back on purpose: the try may take that much longer
    const wait = request.query?.wait;
    if (wait !== undefined && !(Number.isInteger(wait) && Number(wait) >= 0 && Number(wait) <= MAX_WAIT_MS)) {
      // refused here as the coordinator would refuse it, before anything is sent
      const rule = `must be a whole number of milliseconds from 0 to ${MAX_WAIT_MS}`;
      throw errorFromProblem({
        type: '/problems/validation_failed',
        title: 'Unprocessable Entity',
        status: 422,
        detail: `wait is invalid: ${rule}`,
        errors: [{ field: 'wait', rule }],
      });
    }
    const tryTimeoutMs = Math.min(this.tryTimeoutMs + Number(wait ?? 0), MAX_TIMER_MS);
    // an earlier try may have reached the coordinator and done its work, its answer lost on the way
    let mayHaveLanded = false;
    for (let attempt = 1; ; attempt++) {
      let error: CoordinatorError;
      let notBefore = 0;
      const timeout = AbortSignal.timeout(tryTimeoutMs);
      try {
        const res = await this.fetchFn(url, { ...init, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
        const text = await res.text();
        const body = parseBody(text, res.headers.get('content-type'));
        if (res.ok) return { status: res.status, headers: res.headers, body: body as T };
        // a delete repeated after a lost answer that finds nothing left: the lost try deleted it
        if (res.status === 404 && request.method === 'DELETE' && mayHaveLanded) {
          return { status: 204, headers: res.headers, body: null as T };
        }
        error = errorFromAnswer(res.status, body, text);
        notBefore = retryAfterMs(res.headers.get('retry-after')) ?? 0;
      } catch (thrown) {
        if (signal?.aborted) throw signal.reason;
        error = timeout.aborted
          ? new CoordinatorUnreachableError(`no whole answer within ${tryTimeoutMs} ms`, thrown)
          : new CoordinatorUnreachableError(describe(thrown), thrown);
        // the request may have been written: only calls whose repeat is harmless go again
        if (timeout.aborted || !wasRefused(thrown)) mayHaveLanded = true;
        if (request.repeat === 'unsafe' && mayHaveLanded) throw error;
      }
      // the log did not answer in time: the write may still land, as after a lost answer
      if (error.code === 'store_unavailable' && request.repeat === 'unsafe') throw error;
      if (!error.retryable || attempt >= this.retry.maxAttempts) throw error;
      const delay = Math.max(
        backoffDelay(attempt, this.retry, this.random),
        Math.min(notBefore, this.retry.maxBackoffMs),
      );
      await sleep(delay, signal);
    }
  }

  /**
   * Opens `GET path` as a stream (no retry, no body read): the answer when it is 2xx, else its
   * typed error. Used by the live stream, which reconnects on its own.
   */
  async open(path: string, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
    const res = await this.fetchFn(this.url(path), { method: 'GET', headers: this.headers(headers), signal });
    if (res.ok) return res;
    const text = await res.text();
    throw errorFromAnswer(res.status, parseBody(text, res.headers.get('content-type')), text);
  }

  private url(path: string, query: HttpRequest['query'] = {}): string {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
    const search = params.toString();
    return `${this.base}${path}${search ? `?${search}` : ''}`;
  }

  private headers(extra: Record<string, string>): Record<string, string> {
    return { ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}), ...extra };
  }
}

/** JSON bodies parsed; an unparsable or non-JSON body is kept as its text. */
function parseBody(text: string, contentType: string | null): unknown {
  if (!text) return null;
  if (!/[/+]json\b/i.test(contentType ?? '')) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function describe(thrown: unknown): string {
  const error = thrown as { message?: string; cause?: { message?: string; code?: string } };
  const cause = error?.cause?.code ?? error?.cause?.message;
  return `${error?.message ?? String(thrown)}${cause ? ` (${cause})` : ''}`;
}
