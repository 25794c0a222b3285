import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { PhaseDispatcher } from '../phase-dispatcher';
import type { PhaseKey } from '../phase-route';

/** Fastify's own default, used when the instance does not say. */
const DEFAULT_BODY_LIMIT = 1024 * 1024;

const rawBodies = new WeakMap<FastifyRequest, string>();

/**
 * Serves each route as `POST {path}` on `fastify`, answered by `dispatcher`. The exact body text is
 * kept for the signature check in a route-level hook, so the app's own JSON parser (and its
 * `rawBody` setting) is left alone. The routes are plain Fastify routes: Nest's global prefix,
 * guards, pipes and filters do not apply to them. Once `closing()`, each answer closes its
 * connection, so that the server's close does not wait for the caller's keep-alive.
 */
export function mountPhaseRoutes(
  fastify: FastifyInstance,
  routes: { path: string; key: PhaseKey }[],
  dispatcher: PhaseDispatcher,
  closing: () => boolean = () => false,
): void {
  const bodyLimit = fastify.initialConfig.bodyLimit ?? DEFAULT_BODY_LIMIT;
  for (const { path, key } of routes) {
    fastify.route({
      method: 'POST',
      url: path,
      preParsing: async (request, _reply, payload) => {
        const body = await readAll(payload, bodyLimit);
        rawBodies.set(request, body.toString('utf8'));
        return Readable.from([body]);
      },
      handler: async (request, reply) => {
        const answer = await dispatcher.dispatch(key, {
          body: request.body,
          rawBody: rawBodies.get(request) ?? '',
          headers: request.headers,
        });
        if (closing()) void reply.header('connection', 'close');
        return reply.code(answer.status).headers(answer.headers).send(JSON.stringify(answer.body));
      },
      // a body the app's parser refused (not JSON, empty) is no participant call: the dispatcher
      // answers it as one that is not (401 unsigned, else 400 problem invalid_call), not Fastify
      errorHandler: async (error: { code?: string }, request, reply) => {
        if (!error.code?.startsWith('FST_ERR_CTP_') || error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') throw error;
        const answer = await dispatcher.dispatch(key, {
          body: undefined,
          rawBody: rawBodies.get(request) ?? '',
          headers: request.headers,
        });
        if (closing()) void reply.header('connection', 'close');
        return reply.code(answer.status).headers(answer.headers).send(JSON.stringify(answer.body));
      },
    });
  }
}

async function readAll(stream: AsyncIterable<Buffer | string>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    // checked here because the body is read before the parser would check it
    if (size > limit) throw Object.assign(new Error('request body too large'), { statusCode: 413 });
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}
