import { connect } from 'node:net';

/** One answer as the hostile-input tests read it: status, lower-cased headers, body (parsed JSON when it is). */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: any;
  /** Milliseconds from the first byte sent to the end of the answer. */
  ms: number;
}

/**
 * Sends `text` on a fresh socket exactly as given (so broken framing, duplicate headers and invalid
 * JSON are possible) and reads one answer. Without an answer within `timeoutMs` it resolves status 0.
 * `trickle` sends the rest of the bytes one at a time, `trickle.everyMs` apart.
 */
export function rawRequest(
  base: string,
  text: string | Buffer,
  options: { timeoutMs?: number; trickle?: { bytes: string; everyMs: number } } = {},
): Promise<RawAnswer> {
  const { hostname, port } = new URL(base);
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      socket.destroy();
      resolve(parseAnswer(Buffer.concat(chunks), Date.now() - started));
    };
    socket.on('connect', () => {
      socket.write(text);
      if (options.trickle) {
        let i = 0;
        const bytes = options.trickle.bytes;
        timer = setInterval(() => {
          if (i < bytes.length && socket.writable) socket.write(bytes[i++]);
        }, options.trickle.everyMs);
      }
    });
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (complete(Buffer.concat(chunks))) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
    setTimeout(finish, options.timeoutMs ?? 10_000).unref();
  });
}

/** The bytes after any interim (1xx) answers, such as `100 Continue`. */
function finalAnswer(buf: Buffer): Buffer {
  while (/^HTTP\/1\.1 1\d\d /.test(buf.subarray(0, 13).toString('latin1'))) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) break;
    buf = buf.subarray(end + 4);
  }
  return buf;
}

function complete(all: Buffer): boolean {
  const buf = finalAnswer(all);
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(buf.subarray(0, end).toString('latin1'));
  return length !== null && buf.length >= end + 4 + Number(length[1]);
}

function parseAnswer(all: Buffer, ms: number): RawAnswer {
  const buf = finalAnswer(all);
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, headers: {}, body: buf.toString(), ms };
  const [statusLine, ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const text = buf.subarray(end + 4).toString('utf8');
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body, ms };
}

/** Sends a request with fetch and an upper bound on the wait, so a request the coordinator never answers fails the test instead of hanging it. */
export async function send(
  base: string,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
  timeoutMs = 15_000,
): Promise<RawAnswer> {
  const started = Date.now();
  try {
    const res = await fetch(base + path, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: Object.fromEntries(res.headers), body: parsed, ms: Date.now() - started };
  } catch (error) {
    return { status: 0, headers: {}, body: String(error), ms: Date.now() - started };
  }
}
