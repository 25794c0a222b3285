import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DASHBOARD_CSP } from './security-headers';

/** Where `npm run build` puts the dashboard (dist/dashboard, beside dist/apps). */
export const DASHBOARD_DIR = resolve(__dirname, '../../../../dashboard');

/**
 * The dashboard's client-side routes: a reload on any of them gets the page. Only these: every
 * other unknown path stays a 404 problem (and an over-long API path a 414), as for any API client.
 */
export const DASHBOARD_ROUTES = ['/', '/transactions', '/transactions/:id', '/participants', '/keys'];

/**
 * Serves the dashboard at `/`: its built files, and `index.html` on each of its routes, so a deep
 * link (`/transactions/:id`) reloads into the right page. The files themselves need no key; every
 * call the dashboard makes to `/v1` does.
 */
export async function serveDashboard(app: NestFastifyApplication, dir = DASHBOARD_DIR): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  const index = join(dir, 'index.html');
  const built = existsSync(index);
  if (built) {
    // one route per built file (wildcard off): no catch-all that would answer unknown paths
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
  for (const route of DASHBOARD_ROUTES) {
    fastify.get(route, async (_request, reply) =>
      reply
        .header('content-type', 'text/html; charset=utf-8')
        .header('cache-control', 'no-cache')
        .header('content-security-policy', DASHBOARD_CSP)
        .send(page),
    );
  }
}
