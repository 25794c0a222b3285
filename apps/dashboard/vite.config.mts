import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * The operator dashboard. `vite build` writes `dist/dashboard`, which the coordinator serves at `/`.
 * `vite` (dev) proxies the API to COORDINATOR_URL (default http://127.0.0.1:7070).
 */
const coordinator = new URL(process.env.COORDINATOR_URL ?? 'http://127.0.0.1:7070');

export default defineConfig({
  root: here('.'),
  base: '/',
  plugins: [react()],
  build: { outDir: here('../../dist/dashboard'), emptyOutDir: true, sourcemap: true },
  server: {
    proxy: Object.fromEntries(
      ['/v1', '/health', '/metrics', '/docs'].map((prefix) => [
        prefix,
        {
          target: coordinator.origin,
          changeOrigin: true,
          // the page is the dev server's; to the coordinator, which refuses writes whose Origin is not
          // its own host (a page of another site), it stands for the coordinator's own page. Only a
          // same-origin request is vouched for: another site's stays as it came, and is refused
          configure: (proxy) =>
            proxy.on('proxyReq', (request, incoming) => {
              if (sameHost(incoming.headers.origin, incoming.headers.host))
                request.setHeader('origin', coordinator.origin);
            }),
        },
      ]),
    ),
  },
});

/** Whether a request's `Origin` names the host it was sent to (a page of the dev server itself). */
function sameHost(origin: string | undefined, host: string | undefined): boolean {
  try {
    return origin !== undefined && host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}
