import type { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import {
  BROKER_PATH_HEADER,
  Limits,
  Outcome,
  ParticipantHeaders,
  brokerPattern,
  deliveryKey,
  type BrokerCallMessage,
  type Phase,
} from '#contracts';
import { outcomeOfHttpStatus } from '#protocol';
import {
  ParticipantAddressRefusedError,
  ParticipantUrlGuard,
  type ParticipantUrlGuardOptions,
} from '../participants/url-safety';
import type { CallRequest, CallResult, ParticipantCaller } from './participant-caller';
import { sign } from './participant-caller.http';
import { utf8Prefix } from './utf8-prefix';

/** What the caller uses of a ClientProxy (ClientNats, ClientRedis, ClientRMQ differ in their status types). */
export type BrokerClient = Pick<ClientProxy, 'send' | 'close'>;

/** PARTICIPANT_URL_ALLOWLIST and the resolver the connect-time guard uses. */
export type BrokerParticipantCallerOptions = ParticipantUrlGuardOptions;

/** Schemes whose client checks the server's certificate against the host name: those are not pinned to an address. */
const TLS_SCHEMES = new Set(['tls', 'rediss', 'amqps']);

/**
 * {@link ParticipantCaller} over a broker's request/reply, through @nestjs/microservices' ClientProxy,
 * so a participant may be any Nest microservice answering `txn.<participant>.<phase>` on that broker.
 * One client (one connection) per broker URL, shared by every participant behind it and closed by
 * {@link close}. The message is the participant envelope with the HTTP headers beside it; the reply is
 * `{outcome: yes | no | retry, result?}`, read by HTTP's rules (a no from a completion phase is a
 * protocol error, retried); no reply within the call's timeout (broker down, no responder,
 * participant stopped) is unknown, and retried.
 *
 * The URL guard runs when a broker's client is made: the host must pass it, and a plain-text
 * connection is made to the very address checked (so a name rebinding later is not followed).
 */
export abstract class BrokerParticipantCaller implements ParticipantCaller {
  private readonly clients = new Map<string, Promise<BrokerClient>>();
  private readonly guard: ParticipantUrlGuard;
  private closed = false;

  constructor(options: BrokerParticipantCallerOptions = {}) {
    this.guard = new ParticipantUrlGuard(options);
  }

  /** A client for the broker at `url`, whose host may have been replaced by the address the guard checked. */
  protected abstract createClient(url: URL): BrokerClient;

  /** The request as the client sends it: a broker that can bound its life to the call's timeout wraps it so. */
  protected outgoing(message: BrokerCallMessage, _timeoutMs: number): unknown {
    return message;
  }

  async call(req: CallRequest): Promise<CallResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const headers: Record<string, string> = {
      [ParticipantHeaders.idempotencyKey]: deliveryKey(req.body),
    };
    // the envelope's text as the participant will write it again from the message, less its headers
    if (req.secret) headers[ParticipantHeaders.signature] = sign(req.secret, JSON.stringify(req.body));
    if (req.traceparent) headers[ParticipantHeaders.traceparent] = req.traceparent;
    if (req.path) headers[BROKER_PATH_HEADER] = req.path;
    const message: BrokerCallMessage = { ...req.body, headers };
    try {
      if (!req.participant) throw new Error('a broker call needs the participant name');
      const client = await this.clientFor(req.url);
      const reply: unknown = await firstValueFrom(
        client
          .send(brokerPattern(req.participant, req.body.phase), this.outgoing(message, req.timeoutMs))
          .pipe(timeout(req.timeoutMs)),
      );
      return resultOfReply(reply, req.body.phase, elapsed());
    } catch (error) {
      // no answer: timeout, broker down, no responder. The phase may or may not have run.
      return unknown(describeError(error), elapsed());
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const clients = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(clients.map(async (c) => (await c.catch(() => null))?.close()));
  }

  /** The shared client of a broker URL; a refused or failed set-up is not kept, so the next call tries again. */
  private clientFor(url: string): Promise<BrokerClient> {
    if (this.closed) return Promise.reject(new Error('caller closed'));
    let client = this.clients.get(url);
    if (!client) {
      client = this.pinned(url).then((target) => this.createClient(target));
      this.clients.set(url, client);
      client.catch(() => this.clients.get(url) === client && this.clients.delete(url));
    }
    return client;
  }

  private async pinned(raw: string): Promise<URL> {
    const url = new URL(raw);
    const addresses = await this.guard.connectAddresses(url.hostname);
    if (TLS_SCHEMES.has(url.protocol.slice(0, -1))) return url;
    const address = addresses[0];
    url.hostname = address.includes(':') ? `[${address}]` : address;
    return url;
  }
}

const REPLY_OUTCOMES = new Set(['yes', 'no', 'retry']);
/** The HTTP status each broker outcome stands for, so one rule (a no is definite only from a forward phase) serves both. */
const STATUS_OF_OUTCOME = { yes: 200, no: 409, retry: 503 } as const;

/**
 * A call's result from a broker reply: `{outcome, result?}` (an optional `status` is what the
 * attempt shows), or `{status, body}`, the HTTP status and body, as the SDK answered before
 * `outcome`. Anything else is unknown.
 */
function resultOfReply(reply: unknown, phase: Phase, durationMs: number): CallResult {
  const r = typeof reply === 'object' && reply !== null ? (reply as Record<string, unknown>) : {};
  const status = httpStatusOf(r.status);
  if (typeof r.outcome === 'string' && REPLY_OUTCOMES.has(r.outcome)) {
    const said = r.outcome as keyof typeof STATUS_OF_OUTCOME;
    const outcome = outcomeOfHttpStatus(STATUS_OF_OUTCOME[said], phase);
    const error = outcome === Outcome.Yes ? null : status !== null ? `HTTP ${status}` : `answered ${said}`;
    return { outcome, httpStatus: status, result: limitResult(r.result), error, durationMs };
  }
  if (status !== null && r.outcome === undefined) {
    return {
      outcome: outcomeOfHttpStatus(status, phase),
      httpStatus: status,
      result: limitResult(r.body),
      error: status >= 300 ? `HTTP ${status}` : null,
      durationMs,
    };
  }
  return unknown(`reply is not {outcome, result?}: ${truncate(JSON.stringify(reply) ?? String(reply))}`, durationMs);
}

/** `status` when it is an HTTP status (an integer 100-599). */
function httpStatusOf(status: unknown): number | null {
  return Number.isInteger(status) && (status as number) >= 100 && (status as number) <= 599 ? (status as number) : null;
}

/** The body as the log keeps it: at most Limits.maxResultBytes of JSON, else a truncated text. */
function limitResult(body: unknown): unknown {
  if (body === undefined) return null;
  // the limit is in bytes, as over HTTP: a reply of multi-byte characters counts each byte
  const bytes = Buffer.from(JSON.stringify(body) ?? 'null');
  if (bytes.length <= Limits.maxResultBytes) return body;
  return { truncated: true, text: utf8Prefix(bytes, Limits.maxResultBytes) };
}

function unknown(error: string, durationMs: number): CallResult {
  return { outcome: Outcome.Unknown, httpStatus: null, result: null, error, durationMs };
}

function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

export function describeError(error: unknown): string {
  // the guard's refusal reads as it does over HTTP (docs/participant-url-guard.md), without its code
  if (error instanceof ParticipantAddressRefusedError) return error.message;
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return 'timeout';
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  if (typeof error === 'object' && error !== null) {
    const message = (error as { message?: unknown }).message;
    if (typeof message === 'string') return message;
    // Nest's RabbitMQ client rejects with `{err, url}`: the error is inside
    const inner = (error as { err?: unknown }).err;
    if (inner !== undefined && inner !== null) return describeError(inner);
    try {
      return JSON.stringify(error);
    } catch {
      return String(error);
    }
  }
  return String(error);
}
