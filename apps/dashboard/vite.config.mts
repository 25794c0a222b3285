import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * The operator dashboard. `vite build` writes `dist/dashboard`, which the coordinator serves at `/`.
 * `vite` (dev) proxies the API to COORDINATOR_URL (default http://127.0.0.1:7070).
 */
export default defineConfig({
  root: here('.'),
  base: '/',
  plugins: [react()],
  build: { outDir: here('../../dist/dashboard'), emptyOutDir: true, sourcemap: true },
  server: {
    proxy: Object.fromEntries(
      ['/v1', '/health', '/metrics', '/docs'].map((prefix) => [
        prefix,
        { target: process.env.COORDINATOR_URL ?? 'http://127.0.0.1:7070', changeOrigin: true },
      ]),
    ),
  },
});
