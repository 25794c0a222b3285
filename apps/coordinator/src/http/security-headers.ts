import type { FastifyInstance } from 'fastify';

/**
 * On every answer: no page of another origin may frame the coordinator (a frame of the dashboard,
 * same-site but another port or subdomain, sends same-origin requests with the tab's key, and a click
 * tricked into it would replay, abort or create keys as the operator); no type sniffing; no Referer.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-frame-options': 'DENY',
  'content-security-policy': "frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * The dashboard page's policy: scripts, styles and calls from the coordinator itself only (React
 * sets styles through the DOM, which `style-src` does not restrict; `unsafe-inline` is for styles a
 * library may add as a `<style>` element), so an injection in what it shows could run nothing.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Adds {@link SECURITY_HEADERS} to each answer that does not set them itself, and `Cache-Control:
 * no-store` to API answers that set none: they carry transactions, and one carries a new key's secret.
 */
export function installSecurityHeaders(fastify: FastifyInstance): void {
  fastify.addHook('onSend', (request, reply, payload, done) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
      if (!reply.hasHeader(name)) void reply.header(name, value);
    }
    // the route as matched, not the target as sent: `/%76%31/keys` and `http://host/v1/keys` reach /v1 too
    const path = request.routeOptions.url ?? request.url;
    if ((path === '/v1' || path.startsWith('/v1/')) && !reply.hasHeader('cache-control'))
      void reply.header('cache-control', 'no-store');
    done(null, payload);
  });
}
