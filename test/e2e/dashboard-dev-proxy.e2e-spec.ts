import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { freePort, startTestStack, type TestStack } from '#testing';

const ROOT = resolve(__dirname, '../..');

/**
 * The dashboard's dev server (`npm run dev:dashboard`, docs/dashboard.md) proxies the API to a
 * coordinator. The browser's writes carry the dev server's `Origin`, which the coordinator took for
 * a page of another site once the proxy had rewritten `Host`: every replay, abort and key was 403.
 */
describe('the dashboard dev server', () => {
  let s: TestStack;
  let vite: ChildProcess | undefined;
  let origin: string;

  beforeAll(async () => {
    s = await startTestStack('devproxy');
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    vite = spawn(
      process.execPath,
      [resolve(ROOT, 'node_modules/vite/bin/vite.js'), '--config', 'apps/dashboard/vite.config.mts'].concat([
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--strictPort',
      ]),
      { cwd: ROOT, env: { ...process.env, COORDINATOR_URL: s.api.base }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    vite.stdout!.on('data', (c: Buffer) => void (output += c.toString()));
    vite.stderr!.on('data', (c: Buffer) => void (output += c.toString()));
    for (let i = 0; i < 200; i++) {
      const up = await fetch(`${origin}/health/live`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`vite did not come up:\n${output}`);
  });
  afterAll(async () => {
    // vite's dev server ignores SIGTERM with no terminal on its stdin
    if (vite && vite.exitCode === null && vite.signalCode === null) {
      const exited = new Promise((done) => vite!.once('exit', done));
      vite.kill('SIGKILL');
      await exited;
    }
    await s?.close();
  });

  it('passes the browser’s writes through as the coordinator’s own page', async () => {
    const asBrowser = { 'content-type': 'application/json', origin, 'sec-fetch-site': 'same-origin' };
    const created = await fetch(`${origin}/v1/transactions`, {
      method: 'POST',
      headers: asBrowser,
      body: JSON.stringify({ protocol: 'tcc', mode: 'interactive' }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const abort = await fetch(`${origin}/v1/transactions/${id}/abort`, {
      method: 'POST',
      headers: asBrowser,
      body: JSON.stringify({ reason: 'from the dev server' }),
    });
    expect(abort.status).toBe(202);
  });

  it('still refuses a page of another site, through the proxy as without it', async () => {
    const refused = await fetch(`${origin}/v1/transactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' },
      body: JSON.stringify({ protocol: 'tcc', mode: 'interactive' }),
    });
    expect(refused.status).toBe(403);
  });
});
