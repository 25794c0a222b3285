import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { PROBLEM_CONTENT_TYPE } from '#contracts';

/** Where `npm run build` puts the dashboard (dist/dashboard, beside dist/apps). */
export const DASHBOARD_DIR = resolve(__dirname, '../../../../dashboard');

/** Paths that belong to the API and its tools, never to the dashboard's client-side routes. */
const NOT_DASHBOARD = /^\/(v1|health|metrics|docs)(\/|$|\?)/;

/**
 * Serves the dashboard at `/`: its built files, and `index.html` for every other GET that is not an
 * API path, so a deep link (`/transactions/:id`) reloads into the right page. The files themselves
 * need no key; every call the dashboard makes to `/v1` does.
 */
export async function serveDashboard(app: NestFastifyApplication, dir = DASHBOARD_DIR): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  const index = join(dir, 'index.html');
  const built = existsSync(index);
  if (built) {
    // one route per built file (wildcard off), so every other path falls through to the page below
    await fastify.register(fastifyStatic, {
      root: dir,
      prefix: '/',
      wildcard: false,
      index: false,
      decorateReply: false,
    });
  }
  const page = built
    ? readFileSync(index)
    : Buffer.from(
        '<!doctype html><title>txc</title><p>The dashboard is not built: run <code>npm run build</code>. The API is at <a href="/v1/me">/v1</a>, its documentation at <a href="/docs">/docs</a>.</p>',
      );
  fastify.get('/*', async (request, reply) => {
    if (NOT_DASHBOARD.test(request.url)) {
      return reply
        .status(404)
        .header('content-type', PROBLEM_CONTENT_TYPE)
        .send({
          type: '/problems/http-404',
          title: 'Not Found',
          status: 404,
          detail: `Cannot GET ${request.url.split('?')[0]}`,
        });
    }
    return reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache').send(page);
  });
}
