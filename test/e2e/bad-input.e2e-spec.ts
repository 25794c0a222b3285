import { Client } from 'pg';
import { Limits } from '#contracts';
import { sagaBody, startTestStack, type TestStack } from '#testing';

/** Every bad input gets a 4xx problem+json naming the field and rule, and writes nothing. */
describe('bad input', () => {
  let s: TestStack;
  let pg: Client;
  beforeAll(async () => {
    s = await startTestStack('bad');
    pg = new Client({ connectionString: s.db.url });
    await pg.connect();
  });
  afterAll(async () => {
    await pg.end();
    await s.close();
  });

  const rows = async () => {
    const r = await pg.query(
      `SELECT (SELECT count(*) FROM txc_transactions) + (SELECT count(*) FROM txc_branches) +
              (SELECT count(*) FROM txc_events) + (SELECT count(*) FROM txc_participants) +
              (SELECT count(*) FROM txc_idempotency_keys) AS n`,
    );
    return Number(r.rows[0].n);
  };

  const cases: [string, () => Promise<{ status: number; body: any; headers: Headers }>, number, string | null][] = [
    [
      'malformed JSON',
      () => s.api.raw('POST', '/v1/transactions', '{"protocol": "saga",', { 'content-type': 'application/json' }),
      400,
      null,
    ],
    [
      'a non-JSON body',
      () => s.api.raw('POST', '/v1/transactions', 'hello', { 'content-type': 'text/plain' }),
      415,
      null,
    ],
    [
      'a JSON string as the body',
      () => s.api.raw('POST', '/v1/transactions', '"hello"', { 'content-type': 'application/json' }),
      422,
      '(body)',
    ],
    [
      'an unknown participant',
      () => s.api.post('/v1/transactions', { protocol: 'saga', branches: [{ id: 'a', participant: 'ghost' }] }),
      422,
      'branches.0.participant',
    ],
    [
      'a cycle in dependsOn',
      () =>
        s.api.post('/v1/transactions', {
          protocol: 'saga',
          branches: [
            { id: 'a', participant: 'p1', dependsOn: ['c'] },
            { id: 'b', participant: 'p1', dependsOn: ['a'] },
            { id: 'c', participant: 'p1', dependsOn: ['b'] },
          ],
        }),
      422,
      'branches',
    ],
    [
      'a dependency on a missing branch',
      () =>
        s.api.post('/v1/transactions', {
          protocol: 'saga',
          branches: [{ id: 'a', participant: 'p1', dependsOn: ['zz'] }],
        }),
      422,
      'branches.0.dependsOn.0',
    ],
    [
      'a dependency named twice',
      () =>
        s.api.post('/v1/transactions', {
          protocol: 'saga',
          branches: [
            { id: 'a', participant: 'p1' },
            { id: 'b', participant: 'p1', dependsOn: ['a', 'a'] },
          ],
        }),
      422,
      'branches.1.dependsOn.1',
    ],
    ['duplicate branch ids', () => s.api.post('/v1/transactions', sagaBody(['a', 'a'])), 422, 'branches.1.id'],
    [
      'an oversized payload',
      () =>
        s.api.post('/v1/transactions', {
          protocol: 'saga',
          branches: [{ id: 'a', participant: 'p1', payload: 'x'.repeat(Limits.maxPayloadBytes + 1) }],
        }),
      422,
      'branches.0.payload',
    ],
    [
      'an oversized body',
      () =>
        s.api.post('/v1/transactions', { protocol: 'saga', branches: [], pad: 'x'.repeat(Limits.maxBodyBytes + 1) }),
      413,
      null,
    ],
    [
      'too many branches',
      () => s.api.post('/v1/transactions', sagaBody(Array.from({ length: Limits.maxBranches + 1 }, (_, i) => `b${i}`))),
      422,
      'branches',
    ],
    ['no branches', () => s.api.post('/v1/transactions', { protocol: 'saga', branches: [] }), 422, 'branches'],
    [
      'an unknown protocol',
      () => s.api.post('/v1/transactions', { protocol: 'xa', branches: [{ id: 'a', participant: 'p1' }] }),
      422,
      'protocol',
    ],
    ['a bad id', () => s.api.post('/v1/transactions', { id: 'has space', ...sagaBody(['a']) }), 422, 'id'],
    ['an unknown field', () => s.api.post('/v1/transactions', { ...sagaBody(['a']), colour: 'red' }), 422, 'colour'],
    [
      'a timeout out of bounds',
      () => s.api.post('/v1/transactions', { ...sagaBody(['a']), timeoutMs: 5 }),
      422,
      'timeoutMs',
    ],
    [
      'a retry policy out of bounds',
      () => s.api.post('/v1/transactions', { ...sagaBody(['a']), retry: { maxAttempts: 0 } }),
      422,
      'retry.maxAttempts',
    ],
    [
      'a phase of another protocol',
      () =>
        s.api.post('/v1/transactions', {
          protocol: 'saga',
          branches: [{ id: 'a', participant: 'p1', paths: { confirm: '/x' } }],
        }),
      422,
      'branches.0.paths.confirm',
    ],
    [
      'a path that climbs out of the participant URL',
      () =>
        s.api.post('/v1/transactions', {
          protocol: 'saga',
          branches: [{ id: 'a', participant: 'p1', paths: { action: '/../admin' } }],
        }),
      422,
      'branches.0.paths.action',
    ],
    ['a bad ?wait', () => s.api.post('/v1/transactions?wait=-1', sagaBody(['a'])), 422, 'wait'],
    ['a stats ?window of no value', () => s.api.get('/v1/stats?window='), 422, 'window'],
    ['a stats ?window not offered', () => s.api.get('/v1/stats?window=2h'), 422, 'window'],
    [
      'a participant with a non-http URL',
      () => s.api.post('/v1/participants', { name: 'evil', url: 'file:///etc/passwd' }),
      422,
      'url',
    ],
    [
      'a participant on a link-local/metadata address',
      () => s.api.post('/v1/participants', { name: 'evil', url: 'http://169.254.169.254/latest/meta-data' }),
      422,
      'url',
    ],
    [
      'a participant on the metadata host',
      () => s.api.post('/v1/participants', { name: 'evil', url: 'http://metadata.google.internal/' }),
      422,
      'url',
    ],
    [
      'a participant rate too small to ever call it',
      () => s.api.post('/v1/participants', { name: 'glacial', url: 'http://127.0.0.1:1', ratePerSecond: 1e-300 }),
      422,
      'ratePerSecond',
    ],
    [
      'a participant with a bad name',
      () => s.api.post('/v1/participants', { name: 'Bad Name', url: 'http://127.0.0.1:1' }),
      422,
      'name',
    ],
  ];

  it.each(cases)('%s is answered %i problem+json and writes nothing', async (_what, send, status, field) => {
    const before = await rows();
    const r = await send();
    expect(r.status).toBe(status);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.body).toMatchObject({
      status,
      type: expect.any(String),
      title: expect.any(String),
      detail: expect.any(String),
    });
    if (field) expect(r.body.errors.map((e: any) => e.field)).toContain(field);
    expect(await rows()).toBe(before);
  });

  it('answers unknown transactions and participants 404 problem+json', async () => {
    for (const path of ['/v1/transactions/nope', '/v1/participants/nope']) {
      const r = await s.api.get(path);
      expect(r.status).toBe(404);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
  });

  it('refuses a body on an interactive commit and on a submit (422 naming the field): nothing commits', async () => {
    const id = `bad-commit-${Date.now()}`;
    expect((await s.api.post('/v1/transactions', { id, protocol: 'tcc', mode: 'interactive' })).status).toBe(201);
    const msg = `bad-submit-${Date.now()}`;
    const prepared = {
      id: msg,
      protocol: 'msg',
      mode: 'prepared',
      check: { participant: 'p1', path: '/orders/check' },
      branches: [{ id: 'c', participant: 'p1' }],
    };
    expect((await s.api.post('/v1/transactions', prepared)).status).toBe(201);
    for (const [path, body] of [
      [`/v1/transactions/${id}/commit`, { foo: 1 }],
      [`/v1/transactions/${msg}/submit`, { foo: 1 }],
    ] as const) {
      const r = await s.api.post(path, body);
      expect(r.status).toBe(422);
      expect(r.body.errors.map((e: any) => e.field)).toEqual(['foo']);
    }
    // JSON null is a body, and not an object: refused like [] or 1, not taken for no body
    for (const path of [
      `/v1/transactions/${id}/commit`,
      `/v1/transactions/${msg}/submit`,
      `/v1/transactions/${id}/abort`,
    ]) {
      const r = await s.api.post(path, 'null');
      expect([path, r.status]).toEqual([path, 422]);
      expect(r.body.errors.map((e: any) => e.field)).toEqual(['(body)']);
    }
    expect((await s.api.post('/v1/participants/p1/heartbeat', 'null')).status).toBe(422);
    expect([200, 202]).toContain((await s.api.post(`/v1/transactions/${msg}/submit`, {})).status);
    expect((await s.api.get(`/v1/transactions/${id}`)).body.status).toBe('running');
  });

  it('interactive mode is refused for now with a clear 422', async () => {
    const r = await s.api.post('/v1/transactions', { protocol: 'saga', mode: 'interactive' });
    expect(r.status).toBe(422);
    expect(r.body.errors[0].field).toBe('protocol');
  });
});
