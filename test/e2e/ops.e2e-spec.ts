import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { rawRequest } from './hostile-http';
import {
  CoordinatorProcess,
  TEST_REDIS_URL,
  TcpProxy,
  TestParticipant,
  apiClient,
  freshDatabase,
  freshRedisPrefix,
  sagaBody,
  startTestStack,
  type FreshDatabase,
  type TestStack,
} from '#testing';

describe('operations surface', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack('ops');
  });
  afterAll(() => s.close());

  it('answers liveness and readiness with Postgres and the queue checked', async () => {
    expect((await s.api.get('/health/live')).body).toEqual({ status: 'ok' });
    const ready = await s.api.get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.details).toMatchObject({ postgres: { status: 'up' }, queue: { status: 'up', backend: 'redis' } });
  });

  it('exports Prometheus metrics that count transactions and calls', async () => {
    await s.api.post('/v1/transactions?wait=5000', sagaBody(['a', 'b']));
    const res = await fetch(`${s.coordinator.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/txc_transactions_started_total\{protocol="saga"\} [1-9]/);
    expect(text).toMatch(/txc_transactions_settled_total\{protocol="saga",status="committed"\} [1-9]/);
    expect(text).toMatch(/txc_participant_calls_total\{participant="p1",phase="action",outcome="yes"\} [2-9]/);
    // every series of the retention counter is there at 0, retention off or nothing deleted yet
    for (const table of ['transactions', 'branches', 'events', 'idempotency_keys', 'alerts']) {
      expect(text).toMatch(new RegExp(`^txc_retention_deleted_rows_total\\{table="${table}"\\} 0$`, 'm'));
    }
  });

  it('forbids framing and sniffing on every answer; API answers are not stored; the dashboard runs its own scripts only', async () => {
    const base = s.coordinator.url;
    for (const path of ['/', '/transactions/x', '/v1/transactions', '/docs', '/health/live', '/nowhere']) {
      const res = await fetch(base + path);
      expect([path, res.headers.get('x-frame-options')]).toEqual([path, 'DENY']);
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    }
    expect((await fetch(`${base}/v1/transactions`)).headers.get('cache-control')).toBe('no-store');
    // the same route reached through an escaped path or an absolute-form target is an API answer too
    for (const target of ['/%76%31/transactions', `${base}/v1/transactions`, '/%76%31']) {
      const res = await rawRequest(base, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect([target, res.status, res.headers['cache-control']]).toEqual([target, 200, 'no-store']);
    }
    expect((await fetch(`${base}/transactions`)).headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('serves the OpenAPI document and UI', async () => {
    const doc = await s.api.get('/docs-json');
    expect(doc.status).toBe(200);
    // what every operation may answer besides its own: a client generated from it expects them
    for (const [route, operations] of Object.entries<any>(doc.body.paths)) {
      if (!route.startsWith('/v1')) continue; // health and metrics answer without the log
      for (const [method, operation] of Object.entries<any>(operations)) {
        expect([route, method, Object.keys(operation.responses)]).toEqual([
          route,
          method,
          expect.arrayContaining(['401', '503']),
        ]);
        expect(operation.responses['401'].headers['WWW-Authenticate']).toBeDefined();
        if (method === 'post')
          expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['400', '413', '415']));
      }
    }
    expect(doc.body.paths['/v1/participants'].post.responses['201'].headers['Idempotent-Replayed']).toBeDefined();
    // every operation is named (a generated client's method) and tagged, each name once
    const names = Object.entries<any>(doc.body.paths).flatMap(([route, operations]) =>
      Object.entries<any>(operations).map(([method, operation]) => [
        `${method} ${route}`,
        operation.operationId,
        operation.tags,
      ]),
    );
    for (const [operation, id, tags] of names)
      expect([operation, id, tags]).toEqual([operation, expect.any(String), [expect.any(String)]]);
    expect(new Set(names.map(([, id]) => id)).size).toBe(names.length);
    expect(doc.body.paths['/health/ready'].get.security).toEqual([]);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/v1/transactions', '/v1/transactions/{id}/branches', '/v1/participants']),
    );
    expect(doc.body.components.schemas.StartTransaction.properties.protocol.enum).toEqual([
      'saga',
      'tcc',
      '2pc',
      '3pc',
      'msg',
    ]);
    expect((await fetch(`${s.coordinator.url}/docs`)).status).toBe(200);
  });

  it('refuses to start on bad configuration, naming each variable and rule', () => {
    const main = resolve(__dirname, '../../dist/apps/coordinator/src/main.js');
    const run = spawnSync(process.execPath, [main], {
      env: {
        PATH: process.env.PATH,
        PORT: '0x50',
        ROLE: 'boss',
        DATABASE_URL: 'mysql://x',
        PARTICIPANT_URL_ALLOWLIST: '10.0.0.0/99',
      },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('invalid configuration');
    expect(run.stderr).toMatch(/PORT: must be a decimal integer/);
    expect(run.stderr).toMatch(/PARTICIPANT_URL_ALLOWLIST: "10.0.0.0\/99": the prefix length must be 0-32/);
    expect(run.stderr).not.toMatch(/^\s+at /m); // one line per variable, no stack trace
    expect(run.stderr).toMatch(/ROLE: /);
    expect(run.stderr).toContain('DATABASE_URL: must be a postgres:// URL');
  });

  it('names HOST, without a stack trace, when it cannot listen there', async () => {
    const main = resolve(__dirname, '../../dist/apps/coordinator/src/main.js');
    const db = await freshDatabase('ops_host');
    let stderr = '';
    let code: unknown;
    try {
      const child = spawn(process.execPath, [main], {
        env: { PATH: process.env.PATH, DATABASE_URL: db.url, HOST: 'not.a.real.host.invalid', PORT: '0' },
      });
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      code = await new Promise((done) => child.once('exit', done));
    } finally {
      await db.drop();
    }
    expect(code).toBe(1);
    expect(stderr).toContain('cannot listen on HOST=not.a.real.host.invalid PORT=0: HOST is not a known host name');
    expect(stderr).not.toMatch(/^\s+at /m);
  }, 60_000);
});

describe('a start while the queue is unreachable', () => {
  let db: FreshDatabase;
  let redis: TcpProxy;
  let coordinator: CoordinatorProcess;
  let participant: TestParticipant;
  beforeAll(async () => {
    db = await freshDatabase('ops_redis_down');
    const target = new URL(TEST_REDIS_URL);
    redis = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 6379) });
    participant = await TestParticipant.start();
  });
  afterAll(async () => {
    await coordinator?.stop();
    await redis.close();
    await participant.close();
    await db.drop();
  });

  it('starts and answers health (ready 503 naming the queue), drives sagas, and is ready once Redis answers', async () => {
    redis.down(); // Redis refuses every connection, as a stopped server
    coordinator = new CoordinatorProcess({
      databaseUrl: db.url,
      redisUrl: `redis://127.0.0.1:${redis.port}`,
      redisPrefix: freshRedisPrefix('ops-redis-down'),
      env: { LOG_LEVEL: 'warn' },
    });
    const api = apiClient(await coordinator.start());
    expect(coordinator.log).toContain("the queue's store (Redis) does not answer yet");
    expect((await api.get('/health/live')).status).toBe(200);
    const notReady = await api.get('/health/ready');
    expect(notReady.status).toBe(503);
    expect(notReady.body.details).toMatchObject({ postgres: { status: 'up' }, queue: { status: 'down' } });
    // the log drives the work: a saga commits without the queue
    expect((await api.post('/v1/participants', { name: 'p1', url: participant.url })).status).toBe(201);
    const saga = await api.post('/v1/transactions?wait=10000', sagaBody(['a', 'b']));
    expect([saga.status, saga.body.status]).toEqual([200, 'committed']);

    redis.up();
    const ready = await api.until('/health/ready', (b: any) => b.status === 'ok', 20_000);
    expect(ready.details.queue).toMatchObject({ status: 'up', backend: 'redis' });
  }, 60_000);

  it('stops on SIGTERM while Redis is away again: the queue is let go, exit 0', async () => {
    redis.down();
    await coordinator.stop();
    // the queue's close either fails fast on the refused connection or is let go after 5 s: either way it exits
    expect(await coordinator.exited).toBe(0);
  }, 60_000);
});
