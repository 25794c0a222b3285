import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import {
  Limits,
  ForbiddenError,
  MalformedJsonError,
  parseStorableJson,
  PROBLEM_CONTENT_TYPE,
  UnsupportedMediaTypeError,
  unstorablePathSegments,
  ValidationError,
  type Problem,
} from '#contracts';

/**
 * The HTTP server's own limits and errors: what happens before a request reaches a controller
 * (framing, header and URL sizes, timeouts, body decoding) answers application/problem+json like
 * everything after it. Limits are in Limits and docs/limits.md.
 */

/** Fastify options: body and parameter limits, the Node server with its timeouts, problem+json for router and socket errors. */
export function httpServerOptions(requestTimeoutMs: number): FastifyServerOptions {
  return {
    bodyLimit: Limits.maxBodyBytes,
    // the longest a parameter may be (an instance's URL, percent-encoded); each segment's own bound
    // is checked by installRequestGuards, where the route is known
    routerOptions: { maxParamLength: MAX_INSTANCE_SEGMENT_BYTES },
    serverFactory: (handler) => createHttpServer(handler, requestTimeoutMs),
    clientErrorHandler: answerClientError,
    frameworkErrors: (error, request, reply) => {
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
        // the same bound the request guard names for a shorter segment of the same route
        const limit = longSegmentLimit(request.url) ?? MAX_INSTANCE_SEGMENT_BYTES;
        void sendProblem(reply, problem(414, 'uri_too_long', `a path segment is longer than ${limit} bytes`));
      } else if (error.code === 'FST_ERR_BAD_URL') {
        void sendProblem(reply, problem(400, 'bad_url', 'the path is not valid percent-encoded UTF-8'));
      } else {
        void sendProblem(reply, problem(error.statusCode ?? 400, error.code.toLowerCase(), error.message));
      }
    },
  };
}

function createHttpServer(handler: Parameters<typeof createServer>[1], requestTimeoutMs: number): Server {
  const server = createServer(
    {
      // Node's bound counts header names and values but not the request line, the ": " or the line
      // ends, so a request of many small headers passes it: the whole head is measured again below
      maxHeaderSize: Limits.maxHeaderBytes,
      // the whole request (headers and body) must arrive within this; a slow response is not limited
      requestTimeout: requestTimeoutMs,
      headersTimeout: Math.min(requestTimeoutMs, 60_000),
      // how often Node looks for requests past their timeout: a quarter of it, between 100 ms and 1 s
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(requestTimeoutMs / 4))),
      // Node answers an HTTP/1.1 request without Host with an empty 400; it is answered below instead
      requireHostHeader: false,
    },
    (request, response) => {
      if (headBytes(request) > Limits.maxHeaderBytes) refuse(response, HEADERS_TOO_LARGE);
      else if (request.httpVersion === '1.1' && request.headers.host === undefined) refuse(response, NO_HOST);
      else handler!(request, response);
    },
  );
  // an Expect other than 100-continue: Node's own answer is an empty 417
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) =>
    refuse(
      response,
      problem(
        417,
        'expectation_failed',
        `Expect: ${JSON.stringify(request.headers.expect)} is not supported (only 100-continue)`,
      ),
    ),
  );
  // every header is kept, so that all of them are measured (Node drops those past 2 000 unseen);
  // maxHeaderSize above still bounds how many can come
  server.maxHeadersCount = 0;
  server.keepAliveTimeout = 72_000;
  return server;
}

/** The request line and headers as sent, in bytes: what Limits.maxHeaderBytes bounds. */
function headBytes(request: IncomingMessage): number {
  // "METHOD target HTTP/1.1\r\n", then "Name: value\r\n" each, then the empty line
  let bytes = request.method!.length + (request.url ?? '').length + request.httpVersion.length + 9 + 2;
  const raw = request.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) bytes += raw[i].length + raw[i + 1].length + 4;
  return bytes;
}

/** A refusal before routing (a head past the limit, as Node answers one past its own bound): problem+json, connection closed. */
function refuse(response: ServerResponse, answer: Problem): void {
  const body = JSON.stringify(answer);
  response.writeHead(answer.status, {
    'content-type': PROBLEM_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  response.end(body);
}

const HEADERS_TOO_LARGE: Problem = {
  type: '/problems/headers_too_large',
  title: STATUS_CODES[431]!,
  status: 431,
  detail: `the request line and headers are larger than ${Limits.maxHeaderBytes} bytes`,
};

const NO_HOST: Problem = {
  type: '/problems/bad_request',
  title: STATUS_CODES[400]!,
  status: 400,
  detail: 'an HTTP/1.1 request must carry a Host header',
};

/** An RFC 9457 body for an error raised below the controllers. */
function problem(status: number, code: string, detail: string): Problem {
  return { type: `/problems/${code}`, title: STATUS_CODES[status] ?? 'Error', status, detail };
}

function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).header('content-type', PROBLEM_CONTENT_TYPE).send(body);
}

/**
 * Node's parser refused the bytes (bad chunking, two Content-Lengths, headers past maxHeaderSize) or
 * the request did not arrive within the request timeout: there is no request object, so the answer
 * is written to the socket, which is then closed.
 */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const started = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (!socket.writable || started || answeredBeforeBody.has(socket)) {
    socket.destroy();
    return;
  }
  const body =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? problem(408, 'request_timeout', 'the request did not arrive in full within the request timeout')
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? HEADERS_TOO_LARGE
        : problem(400, 'bad_request', `the request is not valid HTTP/1.1 (${error.code ?? error.message})`);
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${body.status} ${body.title}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
  setTimeout(() => socket.destroy(), 1_000).unref();
}

/**
 * Checks every request before routing to a controller: the request target's length (414), and a
 * Content-Encoding other than identity on a body (415: bodies are never decompressed, so a
 * compressed one would be read as if it were plain).
 */
export function installRequestGuards(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (Buffer.byteLength(request.url) > Limits.maxUrlBytes) {
      return sendProblem(
        reply,
        problem(414, 'uri_too_long', `the request target is longer than ${Limits.maxUrlBytes} bytes`),
      );
    }
    const segmentLimit = longSegmentLimit(request.url);
    if (segmentLimit !== null) {
      return sendProblem(reply, problem(414, 'uri_too_long', `a path segment is longer than ${segmentLimit} bytes`));
    }
    const encoding = request.headers['content-encoding']?.trim().toLowerCase();
    const hasBody = Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'];
    if (encoding && encoding !== 'identity' && hasBody) {
      throw new UnsupportedMediaTypeError(
        `Content-Encoding "${encoding}" is not accepted: send the body uncompressed (identity)`,
      );
    }
    // only JSON is read: a form or text body (what a cross-site HTML form can send) is refused,
    // even empty, so no page can make a browser act on this API with a plain form
    const type = request.headers['content-type']?.split(';')[0].trim().toLowerCase();
    const notJson = (type !== undefined && type !== '' && type !== 'application/json') || (hasBody && !type);
    if (notJson && (hasBody || MUTATING.has(request.method))) {
      throw new UnsupportedMediaTypeError(`Content-Type "${type ?? ''}" is not accepted: send application/json`);
    }
    if (MUTATING.has(request.method) && isCrossSite(request)) {
      throw new ForbiddenError(
        'a cross-site browser request may not change anything here: call the API from its own origin or from a server',
      );
    }
    return undefined;
  });
}

/** A path segment as sent: an id of Limits.maxIdLength characters, each possibly percent-encoded. */
const MAX_SEGMENT_BYTES = Limits.maxIdLength * 3;
/** An instance registered without an `instanceId` is named by its URL (up to 2048 characters), encoded. */
const MAX_INSTANCE_SEGMENT_BYTES = Limits.maxParticipantUrlLength * 3;
const INSTANCE_PATH = /^\/v1\/participants\/[^/]+\/instances\/[^/]+\/?$/;

/** The bound a segment of `url`'s path is over (414), or null: the instance route's last one may be an encoded URL. */
function longSegmentLimit(url: string): number | null {
  const path = url.split('?', 1)[0];
  const segments = path.split('/');
  const instanceAt = INSTANCE_PATH.test(path) ? 5 : -1; // '', 'v1', 'participants', name, 'instances', id
  for (let i = 0; i < segments.length; i++) {
    const limit = i === instanceAt ? MAX_INSTANCE_SEGMENT_BYTES : MAX_SEGMENT_BYTES;
    if (Buffer.byteLength(segments[i]) > limit) return limit;
  }
  return null;
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * A browser request sent by a page of another origin (`Sec-Fetch-Site: cross-site`, or an `Origin`
 * whose host is not this one). Scripts and servers send neither header; the dashboard is same-origin.
 */
function isCrossSite(request: FastifyRequest): boolean {
  if (request.headers['sec-fetch-site'] === 'cross-site') return true;
  const origin = request.headers.origin;
  if (!origin || origin === 'null') return origin === 'null';
  try {
    return new URL(origin).host !== request.headers.host;
  } catch {
    return true;
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The application/json body parser. Refuses, before anything reads the body: a charset other than
 * UTF-8 (415), bytes that are not UTF-8 (400), text that is not JSON (400), and JSON that would not
 * store or hash as sent (422 naming the member: see parseStorableJson), including nesting deeper
 * than Limits.maxBodyDepth, which recursive code (the size check, the request hash) could not take.
 */
export function parseJsonBody(contentType: string | undefined, body: Buffer): unknown {
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new UnsupportedMediaTypeError(`charset "${charset}" is not accepted: send JSON as UTF-8`);
  }
  if (body.length === 0) return undefined;
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    throw new MalformedJsonError('the body is not UTF-8');
  }
  const parsed = parseStorableJson(text, Limits.maxBodyDepth);
  if (parsed.ok) return parsed.value;
  if ('syntax' in parsed) throw new MalformedJsonError(parsed.syntax);
  const field = unstorablePathSegments(parsed.unstorable.path).join('.') || '(body)';
  throw new ValidationError(`request body is invalid: ${field} ${parsed.unstorable.rule}`, [
    { field, rule: parsed.unstorable.rule },
  ]);
}

/**
 * The connections whose request was answered before its body arrived in full (no key, a refused
 * media type). Node reads and drops the rest of such a body, so the connection stays usable; if the
 * rest never comes, the request timeout closes it without a second answer.
 */
const answeredBeforeBody = new WeakSet<Socket>();

/**
 * Marks an answer given before its request's body arrived in full (see answeredBeforeBody). Returns
 * `drain`, called once the process starts to stop: from then on every answer closes its
 * connection, and idle keep-alive connections are closed at once. The server's close waits for its
 * connections, and a request still in flight when it closes (a start waiting for its transaction)
 * left a keep-alive connection that held the stop for the keep-alive timeout.
 */
export function closeConnectionsOnDrain(fastify: FastifyInstance): () => void {
  let draining = false;
  fastify.addHook('onSend', (request, reply, payload, done) => {
    // an answer given before the body arrived in full: its connection is not closed, which would cut
    // off a client still sending the body (it would see a failed write, not the answer); Node drops
    // the rest of the body instead, and the request timeout must not answer the request a second time
    const raw = request.raw;
    if (!raw.complete && !raw.socket.destroyed) {
      answeredBeforeBody.add(raw.socket);
      raw.once('end', () => answeredBeforeBody.delete(raw.socket));
    }
    if (draining) void reply.header('connection', 'close');
    done(null, payload);
  });
  return () => {
    draining = true;
    fastify.server.closeIdleConnections();
  };
}
