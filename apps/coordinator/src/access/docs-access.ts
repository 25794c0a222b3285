import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { PROBLEM_CONTENT_TYPE } from '#contracts';
import { toProblem } from '../http/problem.filter';
import { AccessGuard } from './access.guard';

/** `DOCS_PUBLIC=false`: the OpenAPI pages (served by fastify, outside Nest's guards) need a key of any role. */
export function requireKeyForDocs(app: NestFastifyApplication): void {
  const guard = app.get(AccessGuard);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', async (request, reply) => {
      // the route the router matched, not the raw URL: `/%64ocs` reaches the same route as `/docs`
      const route = request.routeOptions?.url ?? request.url;
      if (!/^\/docs(?:[/?-]|$)/.test(route)) return;
      try {
        await guard.authenticate(request.headers.authorization);
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
