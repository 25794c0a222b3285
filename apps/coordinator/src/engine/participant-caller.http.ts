import { createHmac } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector, request } from 'undici';
import { Limits, Outcome, ParticipantHeaders, deliveryKey } from '#contracts';
import { outcomeOfHttpStatus } from '#protocol';
import {
  ParticipantAddressRefusedError,
  ParticipantUrlGuard,
  type ParticipantUrlGuardOptions,
} from '../participants/url-safety';
import type { CallRequest, CallResult, ParticipantCaller } from './participant-caller';
import { utf8Prefix } from './utf8-prefix';

/** PARTICIPANT_URL_ALLOWLIST and the resolver the connect-time guard uses (tests inject one). */
export type HttpParticipantCallerOptions = ParticipantUrlGuardOptions;

/**
 * {@link ParticipantCaller} over HTTP with undici: keep-alive pools per origin, a timeout per call.
 * Every new connection passes the participant URL guard first: the host is resolved by the guard,
 * and only addresses it accepts are connected to, so a name that rebinds to a forbidden address
 * after registration is refused (outcome unknown, retried, the reason shown), never reached.
 */
export class HttpParticipantCaller implements ParticipantCaller {
  private readonly agent: Agent;

  constructor(options: HttpParticipantCallerOptions = {}) {
    this.agent = new Agent({
      connections: 256,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 60_000,
      connect: guardedConnector(new ParticipantUrlGuard(options)),
    });
  }

  async call(req: CallRequest): Promise<CallResult> {
    const started = performance.now();
    const raw = JSON.stringify(req.body);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      [ParticipantHeaders.idempotencyKey]: deliveryKey(req.body),
    };
    if (req.secret) headers[ParticipantHeaders.signature] = sign(req.secret, raw);
    if (req.traceparent) headers[ParticipantHeaders.traceparent] = req.traceparent;
    // the whole call, reading the body included: undici's own timeouts bound each wait alone (a body
    // trickled a byte at a time never ends them) and fire up to a second late (their timers tick
    // twice a second, to a whole second for short ones). The signal is an EventEmitter, which undici
    // takes as well: an AbortController's EventTarget cost about 70 µs of CPU per call under load
    const deadline = new EventEmitter() as EventEmitter & { aborted?: boolean; reason?: Error };
    const timer = setTimeout(() => {
      deadline.aborted = true;
      deadline.reason = CALL_TIMED_OUT;
      deadline.emit('abort');
    }, req.timeoutMs);
    try {
      const res = await request(req.url, {
        dispatcher: this.agent,
        method: 'POST',
        headers,
        body: raw,
        signal: deadline,
      });
      const body = await readLimited(res.body, Limits.maxResultBytes);
      return {
        outcome: outcomeOfHttpStatus(res.statusCode, req.body.phase),
        httpStatus: res.statusCode,
        result: parseResult(body),
        error: res.statusCode >= 300 ? `HTTP ${res.statusCode}` : null,
        durationMs: Math.round(performance.now() - started),
      };
    } catch (error) {
      // no answer: timeout, refused connection, reset. The phase may or may not have run.
      return {
        outcome: Outcome.Unknown,
        httpStatus: null,
        result: null,
        error: describe(error),
        durationMs: Math.round(performance.now() - started),
      };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Ends the calls still out rather than waiting for them: it runs once the engine has let go of
   * its transactions, so their answers have no one left to read them (the next owner delivers the
   * phase again, under the same key). A hung participant would otherwise hold the stop for up to
   * the call timeout.
   */
  async close(): Promise<void> {
    await this.agent.destroy();
  }
}

/** The reason a call's own deadline aborts it with: told as `timeout` (see describe). */
const CALL_TIMED_OUT = Object.assign(new Error('the participant call timed out'), { name: 'TimeoutError' });

/**
 * undici's connector behind the guard. An IP literal is checked before the socket is made (Node
 * does not look literals up); a name is resolved by the guard inside `lookup`, so the addresses
 * checked are the very ones the socket connects to, with Node's own family fallback among them.
 */
function guardedConnector(guard: ParticipantUrlGuard): buildConnector.connector {
  const lookup: LookupFunction = (hostname, options, callback) => {
    guard.connectAddresses(hostname).then(
      (addresses) => {
        const all = addresses.map((address) => ({ address, family: isIP(address) }));
        if (options.all) (callback as (e: null, a: typeof all) => void)(null, all);
        else callback(null, all[0].address, all[0].family);
      },
      (error: Error) => callback(error, '', 0),
    );
  };
  const connect = buildConnector({ lookup });
  return (options, callback) => {
    if (!isIP(options.hostname)) return connect(options, callback);
    guard.connectAddresses(options.hostname).then(
      () => {
        // outside undici's own try/catch now: a throw here must reach the request, not the process
        try {
          connect(options, callback);
        } catch (error) {
          callback(error as Error, null);
        }
      },
      (error: Error) => callback(error, null),
    );
  };
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` (the participant contract: docs/participant-sdk.md, Signatures). */
export function sign(secret: string, rawBody: string, nowSeconds = Math.floor(Date.now() / 1000)): string {
  const mac = createHmac('sha256', secret).update(`${nowSeconds}.${rawBody}`).digest('hex');
  return `t=${nowSeconds},v1=${mac}`;
}

/** The body's first `limit` bytes as text, and whether there was more (the rest is not read). */
async function readLimited(
  body: AsyncIterable<Buffer> & { destroy(): void },
  limit: number,
): Promise<{ text: string; cut: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      break;
    }
  }
  return { text: utf8Prefix(Buffer.concat(chunks), limit), cut: size > limit };
}

/**
 * A JSON reply parsed, whatever its content-type says: a participant written on plain node:http
 * sends none unless told, and its `{"state": "committed"}` must still be read as a check's answer.
 * Anything else (or JSON cut at the limit) is kept as text, marked `truncated` only if it was cut.
 */
function parseResult({ text, cut }: { text: string; cut: boolean }): unknown {
  if (!text) return null;
  if (!cut) {
    try {
      return JSON.parse(text);
    } catch {
      // not JSON: kept as the text it is
    }
  }
  return cut ? { truncated: true, text } : { text };
}

function describe(error: unknown): string {
  if (error instanceof ParticipantAddressRefusedError) return error.message;
  const { name, code, message, cause } = (error ?? {}) as {
    name?: string;
    code?: unknown;
    message?: string;
    cause?: { code?: string; name?: string };
  };
  // the call's signal fired: its reason (a DOMException, not always an Error of this realm) is thrown
  // before the answer, or while the body is read, or is the cause of undici's abort error
  if (name === 'TimeoutError' || cause?.name === 'TimeoutError') return 'timeout';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  if (error instanceof Error) {
    return cause?.code ?? (typeof code === 'string' ? code : undefined) ?? message ?? String(error);
  }
  return String(error);
}
