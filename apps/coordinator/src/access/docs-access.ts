import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { PROBLEM_CONTENT_TYPE } from '#contracts';
import { toProblem } from '../http/problem.filter';
import { AccessGuard } from './access.guard';
import type { Caller } from './caller';

/**
 * Asks for a known key, in a fastify `onRequest` hook, on the routes `covers` picks (by the route
 * the router matched, not the raw URL: `/%64ocs` reaches the same route as `/docs`): 401 without one.
 */
function requireKeyOn(app: NestFastifyApplication, covers: (route: string) => boolean): void {
  const guard = app.get(AccessGuard);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      if (!covers(request.routeOptions?.url ?? request.url)) return;
      try {
        // kept for the AccessGuard, which then checks the route's role without hashing the key again
        (request as FastifyRequest & { caller?: Caller }).caller = await guard.authenticate(request.headers);
      } catch (error) {
        const problem = toProblem(error);
        await reply
          .status(problem.status)
          .header('content-type', PROBLEM_CONTENT_TYPE)
          .header('www-authenticate', 'Bearer realm="txc"')
          .send(problem);
      }
    });
}

/** `DOCS_PUBLIC=false`: the OpenAPI pages (served by fastify, outside Nest's guards) need a key of any role. */
export function requireKeyForDocs(app: NestFastifyApplication): void {
  requireKeyOn(app, (route) => /^\/docs(?:[/?-]|$)/.test(route));
}

/**
 * Asks for a key on every `/v1` route before anything reads the request's body: a request without
 * a known key is answered 401, not 400, 413, 415 or 422 about a body it had no right to send (which
 * would also tell an unknown caller what the parser accepts). The route's role is still checked by
 * the AccessGuard, once the body is read. Registered before the other request checks.
 */
export function requireKeyBeforeBody(app: NestFastifyApplication): void {
  requireKeyOn(app, (route) => route.startsWith('/v1/'));
}
