import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import {
  CoordinatorProcess,
  TEST_REDIS_URL,
  apiClient,
  freshRedisPrefix,
  startTestStack,
  until,
  type TestStack,
} from '#testing';

/**
 * Access control (README "Access control"): every HTTP route of the coordinator × every role, no
 * key and an unknown key → allowed, 401 or 403. The routes are read from the controllers
 * themselves, and each must have an expectation below: a new endpoint fails this test until its
 * access is decided here.
 */
const KEYS = {
  viewer: 'viewer-secret-0123456789',
  client: 'client-secret-0123456789',
  participant: 'participant-secret-0123456789',
  operator: 'operator-secret-0123456789',
  admin: 'admin-secret-0123456789',
} as const;
type Role = keyof typeof KEYS;
const ROLES = Object.keys(KEYS) as Role[];
const API_KEYS = ROLES.map((r) => `${r}-key:${r}:${KEYS[r]}`).join(',');

const READERS: Role[] = ['viewer', 'client', 'operator', 'admin'];
const STARTERS: Role[] = ['client', 'operator', 'admin'];
const OPERATORS: Role[] = ['operator', 'admin'];
const REGISTRARS: Role[] = ['participant', 'admin'];

/** Who may call each route; `public` needs no key. From the role table, not from the code. */
const EXPECTED: Record<string, Role[] | 'public'> = {
  'POST /v1/transactions': STARTERS,
  'GET /v1/transactions': READERS,
  'GET /v1/transactions/:id': READERS,
  'POST /v1/transactions/replay': OPERATORS,
  'POST /v1/transactions/:id/abort': STARTERS,
  'POST /v1/transactions/:id/replay': OPERATORS,
  'POST /v1/transactions/:id/retry': OPERATORS,
  'POST /v1/transactions/:id/branches': STARTERS,
  'POST /v1/transactions/:id/commit': STARTERS,
  'POST /v1/transactions/:id/submit': STARTERS,
  'POST /v1/participants': REGISTRARS,
  'POST /v1/participants/:name/heartbeat': REGISTRARS,
  'GET /v1/participants': READERS,
  'GET /v1/participants/:name': READERS,
  'DELETE /v1/participants/:name': OPERATORS,
  // an instance leaving as it stops, or an operator taking it out of rotation
  'DELETE /v1/participants/:name/instances/:instanceId': ['participant', 'operator', 'admin'],
  'GET /v1': ROLES,
  'GET /v1/me': ROLES,
  'GET /v1/keys': ['admin'],
  'POST /v1/keys': ['admin'],
  'DELETE /v1/keys/:name': ['admin'],
  'GET /v1/stream': READERS,
  'GET /v1/stats': READERS,
  'GET /health/live': 'public',
  'GET /health/ready': 'public',
  'GET /metrics': 'public', // METRICS_PUBLIC defaults to true
};

/**
 * Every route the coordinator's controllers declare, as `METHOD /path`, read from the built
 * controllers' Nest metadata. In a child Node process: Nest ships as ES modules, which Jest's
 * module loader cannot require, and Node's can.
 */
function routeTable(): string[] {
  const script = `
    require('reflect-metadata');
    const { RequestMethod } = require('@nestjs/common');
    const { AppModule } = require('./dist/apps/coordinator/src/app.module.js');
    const { loadConfig } = require('./dist/apps/coordinator/src/config/config.js');
    const routes = [];
    for (const controller of AppModule.forRoot(loadConfig({}), 'postgres://unused').controllers) {
      const base = String(Reflect.getMetadata('path', controller) ?? '').replace(/^\\/|\\/$/g, '');
      for (const name of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = controller.prototype[name];
        const path = name === 'constructor' ? undefined : Reflect.getMetadata('path', handler);
        if (path === undefined) continue;
        const sub = String(path).replace(/^\\/|\\/$/g, '');
        routes.push(RequestMethod[Reflect.getMetadata('method', handler)] + ' /' + [base, sub].filter(Boolean).join('/'));
      }
    }
    process.stdout.write(JSON.stringify(routes.sort()));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: join(__dirname, '../..') }).toString());
}

describe('access control', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack('access', { env: { API_KEYS }, apiKey: KEYS.admin });
  });
  afterAll(() => s.close());

  const routes = routeTable();

  it('has an expectation for every route the controllers declare, and no stale one', () => {
    expect(routes.length).toBeGreaterThan(15);
    expect(routes).toEqual(Object.keys(EXPECTED).sort());
  });

  it('documents every /v1 route in the OpenAPI document', async () => {
    const doc = (await s.api.get('/docs-json')).body as { paths: Record<string, Record<string, unknown>> };
    const missing = routes
      .filter((r) => r.includes(' /v1/'))
      .filter((r) => {
        const [method, path] = r.split(' ');
        return !doc.paths[path.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()];
      });
    expect(missing).toEqual([]);
  });

  it('asks for a key and its role before it reads the body: 401 without a known key, 403 without the role, whatever the body', async () => {
    const bodies: [string, Record<string, string>][] = [
      ['{"protocol": "saga",', { 'content-type': 'application/json' }], // malformed: 400 with a key
      ['{"a": 1, "a": 2}', { 'content-type': 'application/json' }], // a repeated key: 422
      ['hello', { 'content-type': 'text/plain' }], // not JSON: 415
      [JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }), { 'content-type': 'application/json' }], // 413
    ];
    for (const [body, headers] of bodies) {
      for (const auth of [{}, { authorization: 'Bearer not-a-key-0123456789abcdef' }] as Record<string, string>[]) {
        const r = await fetch(`${s.coordinator.url}/v1/transactions`, {
          method: 'POST',
          headers: { ...headers, ...auth },
          body,
        });
        expect([body.slice(0, 20), r.status, r.headers.get('www-authenticate')]).toEqual([
          body.slice(0, 20),
          401,
          'Bearer realm="txc"',
        ]);
        await r.text();
      }
      // a known key whose role may not start transactions hears that, not what is wrong with the body
      const r = await fetch(`${s.coordinator.url}/v1/transactions`, {
        method: 'POST',
        headers: { ...headers, authorization: `Bearer ${KEYS.viewer}` },
        body,
      });
      expect([body.slice(0, 20), r.status, r.headers.get('www-authenticate')]).toEqual([body.slice(0, 20), 403, null]);
      expect(((await r.json()) as { detail: string }).detail).toMatch(/role viewer, which may not start transactions/);
    }
    // the interactive calls share the right to start: the refusal names them too, not only starting
    for (const call of ['branches', 'commit']) {
      const r = await fetch(`${s.coordinator.url}/v1/transactions/any-id/${call}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.viewer}` },
        body: '{}',
      });
      expect([call, r.status]).toEqual([call, 403]);
      expect(((await r.json()) as { detail: string }).detail).toMatch(/register their branches or commit them/);
    }
  });

  /** The status of one call; a stream is cut as soon as its headers arrive. */
  async function statusOf(route: string, key: string | null): Promise<number> {
    const [method, template] = route.split(' ');
    const path = template.replace(':id', 'matrix-none').replace(':name', 'nobody');
    const abort = new AbortController();
    const res = await fetch(s.coordinator.url + path, {
      method,
      signal: abort.signal,
      headers: {
        ...(key === null ? {} : { authorization: `Bearer ${key}` }),
        ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
      },
      body: method === 'POST' ? '{}' : undefined,
    });
    if (res.status === 401 || res.status === 403) {
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const problem = (await res.json()) as { status: number; detail: string };
      expect(problem.status).toBe(res.status);
      expect(problem.detail.length).toBeGreaterThan(10);
    }
    abort.abort();
    return res.status;
  }

  it.each(Object.keys(EXPECTED))(
    '%s: allowed to its roles, 403 to the others, 401 without a valid key',
    async (route) => {
      const expected = EXPECTED[route];
      const seen: Record<string, number> = {};
      const want: Record<string, string> = {};
      for (const role of ROLES) {
        seen[role] = await statusOf(route, KEYS[role]);
        want[role] = expected === 'public' || expected.includes(role) ? 'allowed' : '403';
      }
      seen.none = await statusOf(route, null);
      seen.wrong = await statusOf(route, 'not-a-key-0123456789');
      want.none = expected === 'public' ? 'allowed' : '401';
      want.wrong = expected === 'public' ? 'allowed' : '401';
      const got = Object.fromEntries(
        Object.entries(seen).map(([who, status]) => [
          who,
          status === 401 || status === 403 ? String(status) : 'allowed',
        ]),
      );
      expect(got).toEqual(want);
    },
  );

  it('records the key name as the actor, and a client may abort only what it started', async () => {
    const client = s.api.as(KEYS.client);
    const other = s.api.as(KEYS.operator);
    s.participant.fault({ transactionId: 'own-1', phase: 'action', status: 200, times: 1, delayMs: 1_500 });
    const mine = await client.post('/v1/transactions', {
      id: 'own-1',
      protocol: 'saga',
      branches: [{ id: 'a', participant: 'p1', payload: {} }],
    });
    expect(mine.status).toBe(201);
    const theirs = await other.post('/v1/transactions', {
      id: 'theirs-1',
      protocol: 'saga',
      branches: [{ id: 'a', participant: 'p1', payload: {} }],
    });
    expect(theirs.status).toBe(201);
    expect((await client.post('/v1/transactions/theirs-1/abort', { reason: 'not mine' })).status).toBe(403);
    const aborted = await client.post('/v1/transactions/own-1/abort', { reason: 'changed my mind' });
    expect(aborted.status).toBeLessThan(300);
    const view = await s.api.until('/v1/transactions/own-1', (t: any) => t.status === 'aborted');
    expect(view.events.find((e: any) => e.type === 'transaction.created').detail.actor).toBe('client-key');
    expect(view.createdBy).toBe('client-key');
    expect(view.events.find((e: any) => e.type === 'operator.abort').detail).toEqual({
      actor: 'client-key',
      reason: 'changed my mind',
    });
  });

  // a key was one namespace for every caller: a second service sending the same key (an order
  // number, say) was answered 201 with the first one's transaction, which it then could not abort
  it('an Idempotency-Key belongs to the caller that first sent it: another key gets 422, not its answer', async () => {
    // its action answers late, so that it can still be aborted below
    s.participant.fault({ transactionId: 'order-42', phase: 'action', status: 200, times: 1, delayMs: 1_500 });
    const body = {
      id: 'order-42',
      protocol: 'saga',
      branches: [{ id: 'a', participant: 'p1', payload: { order: 42 } }],
    };
    const key = { 'idempotency-key': 'key-42' };
    const first = await s.api.as(KEYS.client).post('/v1/transactions', body, key);
    expect(first.status).toBe(201);
    const again = await s.api.as(KEYS.client).post('/v1/transactions', body, key);
    expect([again.status, again.body.id, again.headers.get('idempotent-replayed')]).toEqual([
      201,
      first.body.id,
      'true',
    ]);

    const other = await s.api.as(KEYS.operator).post('/v1/transactions', body, key);
    expect([other.status, other.body.type]).toEqual([422, '/problems/idempotency_key_reused']);
    expect(other.body.detail).toMatch(/another API key/);
    const started = await s.api.get(`/v1/transactions?q=key-42`);
    expect(started.body.items.map((t: any) => t.id)).toEqual(['order-42']);

    // operator actions too: a second operator's replay under the first one's key is its own request
    const abort = await s.api
      .as(KEYS.operator)
      .post(`/v1/transactions/${first.body.id}/abort`, {}, { 'idempotency-key': 'abort-42' });
    expect(abort.status).toBeLessThan(300);
    const byAdmin = await s.api.post(`/v1/transactions/${first.body.id}/abort`, {}, { 'idempotency-key': 'abort-42' });
    expect([byAdmin.status, byAdmin.body.type]).toEqual([422, '/problems/idempotency_key_reused']);
  });

  it("a client may submit only the messages it prepared; an operator may submit anyone's", async () => {
    const client = s.api.as(KEYS.client);
    const operator = s.api.as(KEYS.operator);
    const prepared = (id: string) => ({
      id,
      protocol: 'msg',
      mode: 'prepared',
      check: { participant: 'p1', path: '/check' },
      branches: [{ id: 'a', participant: 'p1' }],
    });
    expect((await operator.post('/v1/transactions', prepared('msg-theirs-1'))).status).toBe(201);
    expect((await client.post('/v1/transactions', prepared('msg-own-1'))).status).toBe(201);
    expect((await client.post('/v1/transactions/msg-theirs-1/submit', {})).status).toBe(403);
    expect((await client.post('/v1/transactions/msg-own-1/submit', {})).status).toBeLessThan(300);
    expect((await operator.post('/v1/transactions/msg-own-1/submit', {})).status).toBeLessThan(300);
    await s.api.until('/v1/transactions/msg-own-1', (t: any) => t.status === 'committed');
    const theirs = await s.api.get('/v1/transactions/msg-theirs-1');
    expect(theirs.body.status).toBe('prepared');
  });

  it('refuses what a cross-site page could make a browser send: form bodies and foreign origins', async () => {
    const url = `${s.coordinator.url}/v1/transactions/none/replay`;
    const auth = { authorization: `Bearer ${KEYS.operator}` };
    const form = await fetch(url, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'reason=x',
    });
    expect(form.status).toBe(415);
    const emptyForm = await fetch(url, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' } });
    expect(emptyForm.status).toBe(415);
    const foreign = await fetch(url, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', origin: 'http://evil.example' },
      body: '{}',
    });
    expect(foreign.status).toBe(403);
    const host = new URL(s.coordinator.url).host;
    const sameOrigin = await fetch(url, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', origin: `http://${host}` },
      body: '{}',
    });
    expect(sameOrigin.status).toBe(404); // allowed through: the transaction does not exist
  });

  it('a client may not add branches to or commit an interactive transaction another key started', async () => {
    const client = s.api.as(KEYS.client);
    const begun = await s.api.as(KEYS.operator).post('/v1/transactions', {
      id: 'interactive-other-1',
      protocol: 'tcc',
      mode: 'interactive',
      timeoutMs: 60_000,
    });
    expect(begun.status).toBe(201);
    const branch = { id: 'evil', participant: 'p1', payload: {} };
    expect((await client.post('/v1/transactions/interactive-other-1/branches', branch)).status).toBe(403);
    expect((await client.post('/v1/transactions/interactive-other-1/commit')).status).toBe(403);
    const view = (await s.api.get('/v1/transactions/interactive-other-1')).body;
    expect(view.branches).toEqual([]);
    expect(view.status).toBe('running');
  });

  it('manages stored keys: created once with its secret, usable, listed without it, revoked', async () => {
    const created = await s.api.post('/v1/keys', { name: 'ci-bot', role: 'viewer' });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^txc_/);
    const bot = s.api.as(created.body.key);
    expect((await bot.get('/v1/me')).body).toEqual({ open: false, name: 'ci-bot', role: 'viewer' });
    expect((await bot.post('/v1/transactions', {})).status).toBe(403);
    const list = await s.api.get('/v1/keys');
    expect(list.body.items.map((k: any) => [k.name, k.role, k.source])).toContainEqual(['ci-bot', 'viewer', 'stored']);
    expect(JSON.stringify(list.body)).not.toContain(created.body.key);
    const taken = [
      await s.api.post('/v1/keys', { name: 'ci-bot', role: 'admin' }),
      await s.api.post('/v1/keys', { name: 'admin-key', role: 'admin' }),
    ];
    // a key's conflict is a key's problem type, not a transaction's
    expect(taken.map((r) => [r.status, r.body.type])).toEqual([
      [409, '/problems/key_conflict'],
      [409, '/problems/key_conflict'],
    ]);
    expect((await s.api.post('/v1/keys', { name: 'x y', role: 'boss' })).status).toBe(422);
    expect((await s.api.delete('/v1/keys/ci-bot')).status).toBe(204);
    const configured = await s.api.delete('/v1/keys/admin-key');
    expect([configured.status, configured.body.type]).toEqual([409, '/problems/key_conflict']);
    // revoked: refused at once here, on other instances once their lookup cache (KEY_CACHE_MS) lets go
    const deadline = Date.now() + 10_000;
    let status = 200;
    while (status === 200 && Date.now() < deadline) {
      status = (await bot.get('/v1/me')).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe(401);
  });
});

describe('access control: open mode, private metrics and docs', () => {
  let s: TestStack;
  afterEach(() => s?.close());

  it('runs open with no key configured, until the first key is created', async () => {
    s = await startTestStack('access-open', { env: { KEY_CACHE_MS: '0' } });
    expect((await s.api.get('/v1/me')).body).toEqual({ open: true, name: 'anonymous', role: 'admin' });
    // the API's address printed at start answers who the caller is and where everything is
    expect((await s.api.get('/v1')).body).toMatchObject({
      open: true,
      links: { transactions: '/v1/transactions', docs: '/docs' },
    });
    expect(s.coordinator.log).toMatch(/open mode/);
    const first = await s.api.post('/v1/keys', { name: 'root', role: 'admin' });
    expect(first.status).toBe(201);
    expect((await s.api.get('/v1/me')).status).toBe(401);
    const root = s.api.as(first.body.key);
    expect((await root.get('/v1/me')).body).toEqual({ open: false, name: 'root', role: 'admin' });
    // the last key cannot be revoked: that would open the coordinator to everyone again
    const last = await root.delete('/v1/keys/root');
    expect([last.status, last.body.type]).toEqual([409, '/problems/key_conflict']);
    expect((await root.get('/v1/me')).status).toBe(200);
    expect((await root.post('/v1/keys', { name: 'anonymous', role: 'viewer' })).status).toBe(422);
  });

  it('in open mode, serves no browser that reached it by another name (a DNS-rebinding page)', async () => {
    s = await startTestStack('access-rebind');
    const port = new URL(s.coordinator.url).port;
    const asPage = (host: string, method: string, path: string, body?: unknown) =>
      rawRequest(s.coordinator.url, method, path, body, {
        host,
        origin: `http://${host}`,
        'sec-fetch-site': 'same-origin',
      });
    // the page believes it is on its own origin, and the browser says so
    const rebound = await asPage(`rebind.attacker.example:${port}`, 'POST', '/v1/keys', {
      name: 'evil',
      role: 'admin',
    });
    expect(rebound.status).toBe(403);
    expect(rebound.body.detail).toMatch(/open mode/);
    expect((await asPage(`rebind.attacker.example:${port}`, 'GET', '/v1/transactions')).status).toBe(403);
    // a same-origin GET from a page on plain http carries no Origin and no Sec-Fetch-*: its User-Agent tells
    const plainGet = await rawRequest(s.coordinator.url, 'GET', '/v1/transactions', undefined, {
      host: `rebind.attacker.example:${port}`,
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36',
      accept: '*/*',
    });
    expect(plainGet.status).toBe(403);
    expect((await s.api.get('/v1/me')).body).toEqual({ open: true, name: 'anonymous', role: 'admin' });
    // the dashboard at an address or at localhost, and scripts that send no browser header, are served
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      expect([host, (await asPage(host, 'GET', '/v1/me')).status]).toEqual([host, 200]);
    }
    const script = await rawRequest(s.coordinator.url, 'GET', '/v1/me', undefined, { host: `txc.example:${port}` });
    expect(script.status).toBe(200);
    // fetch in Node (the SDKs, the CLI) at a host name: Sec-Fetch-Mode and its own User-Agent
    const node = await rawRequest(
      s.coordinator.url,
      'POST',
      '/v1/participants',
      { name: 'by-name', url: 'http://127.0.0.1:9' },
      {
        host: `txc.example:${port}`,
        'sec-fetch-mode': 'cors',
        'user-agent': 'node',
        accept: '*/*',
      },
    );
    expect(node.status).toBe(201);
  });

  it('METRICS_PUBLIC=false and DOCS_PUBLIC=false need a key of any role', async () => {
    s = await startTestStack('access-private', {
      env: {
        API_KEYS: `p:participant:${KEYS.participant},r:admin:${KEYS.admin}`,
        METRICS_PUBLIC: 'false',
        DOCS_PUBLIC: 'false',
      },
      apiKey: KEYS.admin,
    });
    // also when the path is spelled with escapes the router decodes
    for (const path of ['/metrics', '/docs', '/docs-json', '/%64ocs', '/%64ocs-json', '/docs%2Djson']) {
      expect((await fetch(s.coordinator.url + path)).status).toBe(401);
      const withKey = await fetch(s.coordinator.url + path, {
        headers: { authorization: `Bearer ${KEYS.participant}` },
      });
      expect([path, withKey.status]).toEqual([path, 200]);
    }
    expect((await fetch(`${s.coordinator.url}/health/ready`)).status).toBe(200);
  });
});

describe('access control across two instances (KEY_CACHE_MS 30 s here)', () => {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });

  it('a key created through one instance works on another within about a second', async () => {
    const env = { API_KEYS: `root:admin:${KEYS.admin}`, KEY_CACHE_MS: '30000' };
    const s = await startTestStack('access-two', { env, apiKey: KEYS.admin });
    const second = sibling(s, 'access-two-b', env);
    stops.push(
      () => s.close(),
      () => second.stop(),
    );
    const b = apiClient(await second.start());
    expect((await b.as(KEYS.admin).get('/v1/keys')).status).toBe(200); // b has read the stored keys: none
    const created = await s.api.post('/v1/keys', { name: 'new-client', role: 'client' });
    expect(created.status).toBe(201);
    await until(async () => (await b.as(created.body.key).get('/v1/me')).status === 200, 5_000, 'the new key on b');
    expect((await b.as(created.body.key).get('/v1/me')).body).toMatchObject({ name: 'new-client', role: 'client' });
    // an unknown secret is still refused there
    expect((await b.as('not-a-key-0123456789abcdef').get('/v1/me')).status).toBe(401);
  });

  it('the first key, created through one instance, ends open mode on another within about a second', async () => {
    const env = { KEY_CACHE_MS: '30000' };
    const s = await startTestStack('access-open-two', { env });
    const second = sibling(s, 'access-open-two-b', env);
    stops.push(
      () => s.close(),
      () => second.stop(),
    );
    const b = apiClient(await second.start());
    expect((await b.get('/v1/me')).body).toMatchObject({ open: true }); // b has read the stored keys: none
    const created = await s.api.post('/v1/keys', { name: 'first', role: 'admin' });
    expect(created.status).toBe(201);
    // while b still believed it was open, anyone could act there as admin, a new key included
    await until(async () => (await b.get('/v1/me')).status === 401, 5_000, 'open mode to end on b');
    expect((await b.post('/v1/keys', { name: 'sneaky', role: 'admin' })).status).toBe(401);
    expect((await b.as(created.body.key).get('/v1/me')).body).toMatchObject({ name: 'first', open: false });
  });
});

/** A second coordinator on `s`'s log, with its own queue prefix and the same `env`. */
function sibling(s: TestStack, label: string, env: Record<string, string>): CoordinatorProcess {
  return new CoordinatorProcess({
    databaseUrl: s.db.url,
    redisUrl: TEST_REDIS_URL,
    redisPrefix: freshRedisPrefix(label),
    env: { LOG_LEVEL: 'warn', ...env },
  });
}

/** A request with exactly these headers (fetch will not send another `Host`). */
function rawRequest(
  base: string,
  method: string,
  path: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<{ status: number; body: { detail?: string } }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      new URL(path, base),
      { method, headers: { ...headers, ...(payload ? { 'content-type': 'application/json' } : {}) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
