import { createHmac } from 'node:crypto';
import { Agent, request } from 'undici';
import { Limits, Outcome, ParticipantHeaders } from '#contracts';
import { outcomeOfHttpStatus } from '#protocol';
import type { CallRequest, CallResult, ParticipantCaller } from './participant-caller';

/** {@link ParticipantCaller} over HTTP with undici: keep-alive pools per origin, a timeout per call. */
export class HttpParticipantCaller implements ParticipantCaller {
  private readonly agent = new Agent({ connections: 256, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 });

  async call(req: CallRequest): Promise<CallResult> {
    const started = performance.now();
    const raw = JSON.stringify(req.body);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      [ParticipantHeaders.idempotencyKey]: `${req.body.transactionId}/${req.body.branchId}/${req.body.phase}`,
    };
    if (req.secret) headers[ParticipantHeaders.signature] = sign(req.secret, raw);
    try {
      const res = await request(req.url, {
        dispatcher: this.agent,
        method: 'POST',
        headers,
        body: raw,
        // undici's own timers bound the wait for the answer; no AbortSignal (a timer per call) needed
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      });
      const text = await readLimited(res.body, Limits.maxResultBytes);
      return {
        outcome: outcomeOfHttpStatus(res.statusCode, req.body.phase),
        httpStatus: res.statusCode,
        result: parseResult(text, String(res.headers['content-type'] ?? '')),
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
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` (DESIGN.md §4). */
export function sign(secret: string, rawBody: string, nowSeconds = Math.floor(Date.now() / 1000)): string {
  const mac = createHmac('sha256', secret).update(`${nowSeconds}.${rawBody}`).digest('hex');
  return `t=${nowSeconds},v1=${mac}`;
}

async function readLimited(body: AsyncIterable<Buffer> & { destroy(): void }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= limit) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

function parseResult(text: string, contentType: string): unknown {
  if (!text) return null;
  if (contentType.includes('json')) {
    try {
      return JSON.parse(text);
    } catch {
      return { truncated: true, text };
    }
  }
  return { text };
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: string }).code;
    if (error.name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return 'timeout';
    }
    const cause = (error as { cause?: { code?: string } }).cause;
    return cause?.code ?? code ?? error.message;
  }
  return String(error);
}
