import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { PROBLEM_CONTENT_TYPE } from '#contracts';
import { toProblem } from '../http/problem.filter';
import { ACCESS_METADATA, type AccessNeeds } from './access.decorator';
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
        const caller = await guard.authenticate(request.headers);
        (request as FastifyRequest & { caller?: Caller }).caller = caller;
        // a known key whose role may not use the route hears so now, not about the body it sent
        const config = request.routeOptions?.config as unknown as Record<string, AccessNeeds | undefined> | undefined;
        const needs = config?.[ACCESS_METADATA];
        if (needs) guard.authorize(caller, needs);
      } catch (error) {
        const problem = toProblem(error);
        if (problem.status === 401) reply.header('www-authenticate', 'Bearer realm="txc"');
        await reply.status(problem.status).header('content-type', PROBLEM_CONTENT_TYPE).send(problem);
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
 * would also tell an unknown caller what the parser accepts); a known key whose role may not use the
 * route is answered 403 there too. The AccessGuard checks the role again once the body is read (and
 * alone on routes outside `/v1`). Registered before the other request checks.
 */
export function requireKeyBeforeBody(app: NestFastifyApplication): void {
  requireKeyOn(app, (route) => route.startsWith('/v1/'));
}
