import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { sagaBody, startTestStack, type TestStack } from '#testing';

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
  });

  it('serves the OpenAPI document and UI', async () => {
    const doc = await s.api.get('/docs-json');
    expect(doc.status).toBe(200);
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
});
