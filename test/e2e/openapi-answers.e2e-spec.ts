import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { BREAKERS_OFF, sagaBody, startTestStack, until, type JsonResponse, type TestStack } from '#testing';

const ADMIN = 'answers-admin-secret';
const DOCUMENT_ID = 'https://txc.invalid/openapi.json';

/**
 * Real answers of every `/v1` JSON operation validate against the schema the OpenAPI document
 * declares for their status, with every field they carry declared (undeclared fields refused), so a
 * client generated from the document reads what the server sends.
 */
describe('the OpenAPI document describes the answers', () => {
  let s: TestStack;
  let doc: { paths: Record<string, Record<string, { responses: Record<string, any> }>>; components: any };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);

  beforeAll(async () => {
    s = await startTestStack('openapi-answers', {
      env: { API_KEYS: `admin:admin:${ADMIN}`, ...BREAKERS_OFF },
      apiKey: ADMIN,
    });
    doc = (await s.api.get('/docs-json')).body;
    ajv.addSchema({ $id: DOCUMENT_ID, components: closed(doc.components) });
  });
  afterAll(() => s.close());

  /** `res` is what the document says `method route` answers with its status. */
  function expectDescribed(method: string, route: string, res: JsonResponse): void {
    const operation = doc.paths[route]?.[method];
    expect([method, route, operation !== undefined]).toEqual([method, route, true]);
    const answer = operation.responses[String(res.status)];
    expect([method, route, res.status, answer !== undefined]).toEqual([method, route, res.status, true]);
    if (res.status === 204) return;
    // a JSON answer declares its schema: by reference, or in place (health)
    const type = (res.headers.get('content-type') ?? '').split(';')[0];
    const schema = answer.content?.[type]?.schema;
    expect([method, route, res.status, type, schema]).toEqual([method, route, res.status, type, expect.any(Object)]);
    const validate = ajv.compile(schema.$ref ? { $ref: DOCUMENT_ID + schema.$ref } : (closed(schema) as object));
    const valid = validate(res.body);
    expect([method, route, res.status, valid ? [] : validate.errors]).toEqual([method, route, res.status, []]);
  }

  it('for the index, keys and participants', async () => {
    expectDescribed('get', '/v1', await s.api.get('/v1'));
    expectDescribed('get', '/v1/me', await s.api.get('/v1/me'));
    expectDescribed('post', '/v1/keys', await s.api.post('/v1/keys', { name: 'reader', role: 'viewer' }));
    expectDescribed('get', '/v1/keys', await s.api.get('/v1/keys'));
    const instance = { name: 'p2', url: s.participant.url, instanceId: 'a', ttlSeconds: 60, maxConcurrency: 4 };
    expectDescribed('post', '/v1/participants', await s.api.post('/v1/participants', instance));
    expectDescribed('post', '/v1/participants', await s.api.post('/v1/participants', { ...instance, secret: 'x' }));
    expectDescribed(
      'post',
      '/v1/participants/{name}/heartbeat',
      await s.api.post('/v1/participants/p2/heartbeat', { instanceId: 'a' }),
    );
    expectDescribed('get', '/v1/participants', await s.api.get('/v1/participants'));
    expectDescribed('get', '/v1/participants/{name}', await s.api.get('/v1/participants/p1'));
    expectDescribed(
      'delete',
      '/v1/participants/{name}/instances/{instanceId}',
      await s.api.delete('/v1/participants/p2/instances/a'),
    );
    expectDescribed('delete', '/v1/participants/{name}', await s.api.delete('/v1/participants/p2'));
    expectDescribed('get', '/v1/participants/{name}', await s.api.get('/v1/participants/p2'));
  });

  it('for transactions of every kind, a page of them, stats and operator actions', async () => {
    const committed = await s.api.post('/v1/transactions?wait=10000', sagaBody(['a', 'b']));
    expectDescribed('post', '/v1/transactions', committed);
    expectDescribed('post', '/v1/transactions', await s.api.post('/v1/transactions', sagaBody(['c'])));
    expectDescribed('get', '/v1/transactions/{id}', await s.api.get(`/v1/transactions/${committed.body.id}`));

    // a saga whose compensation runs out of attempts: failed, with its first error
    s.participant.fault({ branchId: 'y', phase: 'action', status: 409, times: 1 });
    s.participant.fault({ branchId: 'x', phase: 'compensate', status: 500, times: 100 });
    const failing = await s.api.post(
      '/v1/transactions?wait=10000',
      sagaBody(['x', 'y'], { retry: { maxAttempts: 1, initialBackoffMs: 10, maxBackoffMs: 10 } }),
    );
    await until(async () => (await s.api.get(`/v1/transactions/${failing.body.id}`)).body.status === 'failed');
    expectDescribed('get', '/v1/transactions/{id}', await s.api.get(`/v1/transactions/${failing.body.id}`));
    const dryRun = await s.api.post('/v1/transactions/replay', { participant: 'p1', reason: 'look', dryRun: true });
    expectDescribed('post', '/v1/transactions/replay', dryRun);
    s.participant.clearFaults();
    expectDescribed(
      'post',
      '/v1/transactions/{id}/replay',
      await s.api.post(`/v1/transactions/${failing.body.id}/replay`, { reason: 'fixed' }),
    );

    // a prepared message, with its check
    const message = await s.api.post('/v1/transactions', {
      protocol: 'msg',
      mode: 'prepared',
      checkAfterMs: 60000,
      check: { participant: 'p1', path: '/msg/check' },
      branches: [{ id: 'm', participant: 'p1', payload: {} }],
    });
    expectDescribed('post', '/v1/transactions', message);
    expectDescribed('get', '/v1/transactions/{id}', await s.api.get(`/v1/transactions/${message.body.id}`));
    expectDescribed(
      'post',
      '/v1/transactions/{id}/submit',
      await s.api.post(`/v1/transactions/${message.body.id}/submit?wait=10000`),
    );

    // an interactive TCC: a branch's vote, the commit
    const begun = await s.api.post('/v1/transactions', { protocol: 'tcc', mode: 'interactive' });
    expectDescribed('post', '/v1/transactions', begun);
    const branch = { id: 'i', participant: 'p1', payload: {} };
    expectDescribed(
      'post',
      '/v1/transactions/{id}/branches',
      await s.api.post(`/v1/transactions/${begun.body.id}/branches`, branch),
    );
    expectDescribed(
      'post',
      '/v1/transactions/{id}/commit',
      await s.api.post(`/v1/transactions/${begun.body.id}/commit?wait=10000`),
    );
    const aborted = await s.api.post('/v1/transactions', { protocol: 'tcc', mode: 'interactive' });
    expectDescribed(
      'post',
      '/v1/transactions/{id}/abort',
      await s.api.post(`/v1/transactions/${aborted.body.id}/abort`, { reason: 'no' }),
    );

    await until(async () => (await s.api.get(`/v1/transactions/${failing.body.id}`)).body.status !== 'committing');
    const bulk = await s.api.post('/v1/transactions/replay', { ids: [failing.body.id], reason: 'again' });
    expectDescribed('post', '/v1/transactions/replay', bulk);
    expectDescribed('get', '/v1/transactions', await s.api.get('/v1/transactions?limit=2'));
    expectDescribed('get', '/v1/transactions', await s.api.get('/v1/transactions?protocol=msg'));
    expectDescribed('get', '/v1/stats', await s.api.get('/v1/stats?window=15m'));
    expectDescribed('get', '/health/live', await s.api.get('/health/live'));
    expectDescribed('get', '/health/ready', await s.api.get('/health/ready'));
  });

  it('for a path parameter that is not valid, on every operation that takes one', async () => {
    const calls = { get: s.api.get, delete: s.api.delete, post: (path: string) => s.api.post(path, {}) };
    for (const [route, operations] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      if (!route.includes('{')) continue;
      for (const method of Object.keys(operations) as (keyof typeof calls)[]) {
        // a space and a control character: no name, id or instance takes them
        const path = route.replace(/\{\w+\}/g, 'not%20valid%01');
        expectDescribed(method, route, await calls[method](path));
      }
    }
  });
});

describe('the OpenAPI start body', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack('openapi-start');
  });
  afterAll(() => s.close());

  it('refuses what the server refuses across fields, and takes what it takes', async () => {
    const doc = (await s.api.get('/docs-json')).body;
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    ajv.addSchema({ $id: DOCUMENT_ID, components: doc.components });
    const validate = ajv.compile({ $ref: `${DOCUMENT_ID}#/components/schemas/StartTransaction` });
    const branch = (id: string, extra: object = {}) => ({ id, participant: 'p1', payload: {}, ...extra });
    const check = { participant: 'p1', path: '/msg/check' };
    const bodies: [string, object][] = [
      ['a saga', { protocol: 'saga', branches: [branch('a')] }],
      ['a saga DAG', { protocol: 'saga', branches: [branch('a'), branch('b', { dependsOn: ['a'] })] }],
      ['an interactive TCC', { protocol: 'tcc', mode: 'interactive' }],
      ['a driven message', { protocol: 'msg', branches: [branch('a')] }],
      ['a prepared message', { protocol: 'msg', mode: 'prepared', check, branches: [branch('a')] }],
      ['a driven saga without branches', { protocol: 'saga', branches: [] }],
      ['a driven 2PC without branches', { protocol: '2pc' }],
      ['an interactive TCC with a branch', { protocol: 'tcc', mode: 'interactive', branches: [branch('a')] }],
      ['a prepared message without check', { protocol: 'msg', mode: 'prepared', branches: [branch('a')] }],
      ['an interactive message', { protocol: 'msg', mode: 'interactive' }],
      ['a driven message with a check', { protocol: 'msg', check, branches: [branch('a')] }],
      ['a prepared TCC', { protocol: 'tcc', mode: 'prepared', check, branches: [branch('a')] }],
      ['a saga with a check', { protocol: 'saga', check, branches: [branch('a')] }],
      ['a 2PC with checkAfterMs', { protocol: '2pc', checkAfterMs: 1000, branches: [branch('a')] }],
      ['a TCC with dependsOn', { protocol: 'tcc', branches: [branch('a'), branch('b', { dependsOn: ['a'] })] }],
      ['an interactive saga', { protocol: 'saga', mode: 'interactive' }],
      ['an interactive 3PC', { protocol: '3pc', mode: 'interactive' }],
      ['an interactive 2PC', { protocol: '2pc', mode: 'interactive' }],
      ['a saga with its phases', { protocol: 'saga', branches: [branch('a', { paths: { compensate: '/undo' } })] }],
      ['a saga with a TCC phase', { protocol: 'saga', branches: [branch('a', { paths: { check: '/c' } })] }],
      ['a TCC with a saga phase', { protocol: 'tcc', branches: [branch('a', { paths: { compensate: '/undo' } })] }],
      ['a 3PC with its phases', { protocol: '3pc', branches: [branch('a', { paths: { 'pre-commit': '/p' } })] }],
    ];
    for (const [what, body] of bodies) {
      const status = (await s.api.post('/v1/transactions', body)).status;
      expect([what, status, validate(body)]).toEqual([what, status, status === 201]);
    }
  });
});

/** The schemas with undeclared properties refused wherever an object lists its properties. */
function closed(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(closed);
  if (node === null || typeof node !== 'object') return node;
  const copy = Object.fromEntries(Object.entries(node).map(([key, value]) => [key, closed(value)]));
  if ('properties' in copy && !('additionalProperties' in copy)) copy.additionalProperties = false;
  return copy;
}
