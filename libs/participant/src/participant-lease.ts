import { hostname } from 'node:os';
import { coordinatorBaseUrl } from '#contracts';

/** How long `stop({ leave: true })` waits for its deregistration to be answered. */
const LEAVE_TIMEOUT_MS = 10_000;

/** What a {@link ParticipantLease} registers and how often it renews. */
export interface ParticipantLeaseOptions {
  /** The coordinator's base URL, e.g. `http://127.0.0.1:7070` (without `/v1`). */
  coordinatorUrl: string;
  /** Participant name, 1-63 of `[a-z0-9_-]`: what branches name in `participant`. */
  name: string;
  /** Where the coordinator reaches this service; phase paths are appended to it. For a broker transport, the broker's URL. */
  url: string;
  /** How the coordinator reaches it: `http` (default), `nats`, `redis` or `rabbitmq` (also `rmq`) (docs/transports.md). */
  transport?: string;
  /** When set, the coordinator signs every call with it (`Txn-Signature`); 16-256 characters. */
  secret?: string;
  /** Sent as `Authorization: Bearer <apiKey>` (a key with the `participant` role). */
  apiKey?: string;
  /**
   * Names this instance among the participant's instances (each has its own lease and circuit, and
   * calls are balanced over the live ones). Without it the URL names the instance.
   */
  instanceId?: string;
  /** Free-form JSON shown in the registry with the instance (version, zone, ...). */
  metadata?: Record<string, unknown>;
  /** At most this many calls in flight to the participant, from all coordinators together. */
  maxConcurrency?: number;
  /** At most this many calls per second to the participant, from all coordinators together. */
  ratePerSecond?: number;
  /** Have the coordinator replay the participant's failed transactions once it is healthy again. */
  autoReplay?: boolean;
  /** The lease: silent this long, the instance is expired and gets no call. */
  ttlSeconds: number;
  /** How often the lease is renewed. */
  heartbeatMs: number;
  /** Told about every failed registration or heartbeat (the lease keeps trying). */
  onError?: (error: Error) => void;
  /**
   * Told once the coordinator answers that this instance was drained (an operator removed it): the
   * lease stops renewing. Over a broker the coordinator cannot keep calls from reaching a process,
   * the broker picks it; the SDK's Nest module stops consuming then.
   */
  onDrained?: () => void;
}

/** A refusal that retrying cannot fix (bad name, URL, secret or key): start-up should fail on it. */
export class ParticipantRegistrationError extends Error {
  override readonly name = 'ParticipantRegistrationError';
  readonly retryable = false;

  constructor(
    readonly status: number,
    detail: string,
  ) {
    super(`registration refused with HTTP ${status}: ${detail}`);
  }
}

/**
 * Keeps one participant instance registered with the coordinator: registers it
 * (`POST /v1/participants`), then renews its lease every `heartbeatMs`
 * (`POST /v1/participants/{name}/heartbeat {instanceId}`), registering again if the coordinator
 * answers 404 (it forgot the participant or the instance). A 409 (the instance was drained: an
 * operator removed it) stops the renewals, reported through `onError`: it stays out until `start()`. `stop()` only stops renewing: the
 * instance gets no call once its lease runs out; `stop({ leave: true })` also deregisters it, so it
 * gets no new call at once (it drains).
 */
export class ParticipantLease {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private registered = false;
  private stopped = false;

  /** The coordinator's base URL, checked once: a start with a malformed one fails rather than retrying. */
  private readonly base: string;

  constructor(private readonly options: ParticipantLeaseOptions) {
    this.base = coordinatorBaseUrl(options.coordinatorUrl);
  }

  /**
   * Registers, then schedules the heartbeats. Rejects with {@link ParticipantRegistrationError} when
   * the coordinator refuses the registration (a 4xx other than 404/408/429); when it cannot be
   * reached, reports the error and keeps trying at every heartbeat.
   */
  async start(): Promise<void> {
    this.stopped = false;
    try {
      await this.register();
    } catch (error) {
      if (error instanceof ParticipantRegistrationError) throw error;
      this.options.onError?.(error as Error);
    }
    this.schedule();
  }

  /** Renews the lease now (registers first when not registered yet). */
  async renew(): Promise<void> {
    if (!this.registered) return this.register();
    const { instanceId, url } = this.options;
    // always named: an instance registered without instanceId is its URL, and a heartbeat without
    // one would renew every such instance of the name, a dead one's included
    const res = await this.post(`/v1/participants/${encodeURIComponent(this.options.name)}/heartbeat`, {
      instanceId: instanceId ?? url,
    });
    if (res.status === 404) {
      this.registered = false;
      return this.register();
    }
    if (res.status === 409) {
      // the instance left or an operator removed it (draining): it stays out; start() brings it back
      this.stopped = true;
      this.registered = false;
      clearTimeout(this.timer);
      this.options.onDrained?.();
      throw new Error(`the coordinator drained this instance, so the lease stops renewing: ${await res.text()}`);
    }
    if (!res.ok) throw new Error(`heartbeat answered HTTP ${res.status}: ${await res.text()}`);
  }

  /**
   * Stops renewing and waits for a renewal in flight. With `leave`, deregisters the instance
   * (`DELETE /v1/participants/{name}/instances/{instanceId}`) so that it gets no new call from now.
   */
  async stop(options: { leave?: boolean } = {}): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
    if (options.leave && this.registered) {
      const { name, instanceId, url } = this.options;
      const path = `/v1/participants/${encodeURIComponent(name)}/instances/${encodeURIComponent(instanceId ?? url)}`;
      // the coordinator answers once no coordinator will call the instance any more: about a second
      const res = await this.request('DELETE', path, undefined, LEAVE_TIMEOUT_MS);
      if (!res.ok && res.status !== 404) throw new Error(`leaving answered HTTP ${res.status}: ${await res.text()}`);
      this.registered = false;
    }
  }

  private async register(): Promise<void> {
    const {
      name,
      url,
      transport,
      secret,
      ttlSeconds,
      instanceId,
      metadata,
      maxConcurrency,
      ratePerSecond,
      autoReplay,
    } = this.options;
    const res = await this.post('/v1/participants', {
      name,
      url,
      ttlSeconds,
      ...(transport ? { transport } : {}),
      ...(secret ? { secret } : {}),
      ...(instanceId ? { instanceId } : {}),
      ...(metadata ? { metadata } : {}),
      ...(maxConcurrency !== undefined ? { maxConcurrency } : {}),
      ...(ratePerSecond !== undefined ? { ratePerSecond } : {}),
      ...(autoReplay !== undefined ? { autoReplay } : {}),
    });
    if (res.ok) {
      this.registered = true;
      return;
    }
    const detail = await res.text();
    if (res.status >= 400 && res.status < 500 && ![404, 408, 429].includes(res.status)) {
      throw new ParticipantRegistrationError(res.status, detail);
    }
    throw new Error(`registration answered HTTP ${res.status}: ${detail}`);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.renew()
        .catch((error: Error) => this.options.onError?.(error))
        .finally(() => this.schedule());
    }, this.options.heartbeatMs);
    // the lease must never be what keeps a process alive that is otherwise done
    this.timer.unref();
  }

  private post(path: string, body?: unknown): Promise<Response> {
    return this.request('POST', path, body ?? {});
  }

  /** Sends a request that gives up after `timeoutMs` (default: a heartbeat period, at least a second). */
  private request(
    method: 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    timeoutMs = Math.max(1000, Math.ceil(this.options.heartbeatMs)),
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const base = this.base;
    return fetch(base + path, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      // a hung coordinator must not stall the heartbeat chain past its own period
      // (a whole number of ms: AbortSignal.timeout throws on a third of a 5 s lease)
      signal: AbortSignal.timeout(timeoutMs),
    }).catch((error: unknown) => {
      // fetch says only "fetch failed": the address and the reason are what a log reader needs
      throw new Error(`cannot reach the coordinator at ${base}: ${unreachableBecause(error)}`, { cause: error });
    });
  }
}

/** Why a request got no answer: the network error under fetch's own, or a timeout. */
function unreachableBecause(error: unknown): string {
  // read by shape: fetch's errors may come from another realm, where `instanceof Error` fails
  const asError = (e: unknown) =>
    typeof e === 'object' && e !== null && typeof (e as Error).message === 'string' ? (e as Error) : null;
  const outer = asError(error);
  if (outer?.name === 'TimeoutError') return 'no answer in time';
  const inner = asError((error as { cause?: unknown } | null)?.cause) ?? outer;
  if (!inner) return String(error);
  const code = (inner as { code?: unknown }).code;
  return typeof code === 'string' && !inner.message.includes(code) ? `${code}: ${inner.message}` : inner.message;
}

/**
 * `<host>:<pid>`, in the characters an instance id may hold: one process among several serving a
 * participant over one broker, where the broker's URL, the same for all, cannot tell them apart.
 */
export function processInstanceId(host = hostname(), pid = process.pid): string {
  return `${host.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 100) || 'host'}:${pid}`;
}
