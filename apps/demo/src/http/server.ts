import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { FaultSwitch } from './faults';
import type { PhaseStats } from './phase-stats';

const rawBodies = new WeakMap<FastifyRequest, string>();

/** The exact bytes of a JSON request body (as text), for signature checks. Empty when there was none. */
export function rawBodyOf(request: FastifyRequest): string {
  return rawBodies.get(request) ?? '';
}

/**
 * A fastify instance for one demo service: JSON bodies parsed with the raw text kept, errors answered
 * as `{error}`, and the test surface `POST|DELETE /_faults`, `GET /_stats`, `GET /health`.
 */
export function createServiceServer(faults: FaultSwitch, stats: PhaseStats): FastifyInstance {
  const app = Fastify({ logger: false });

  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString();
    rawBodies.set(request, text);
    if (text.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(Object.assign(new Error('malformed JSON body'), { statusCode: 400 }), undefined);
    }
  });

  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) process.stderr.write(`demo: ${request.method} ${request.url} failed: ${error.stack ?? error}\n`);
    return reply.code(status).send({ error: error.message });
  });

  app.get('/health', async () => ({ ok: true }));
  app.get('/_stats', async () => stats.snapshot());
  app.post('/_faults', async (request, reply) => {
    const error = faults.add(request.body);
    return error ? reply.code(400).send({ error }) : { ok: true };
  });
  app.delete('/_faults', async () => {
    faults.clear();
    return { ok: true };
  });
  return app;
}
