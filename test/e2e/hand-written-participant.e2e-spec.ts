import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestStack, until, type TestStack } from '#testing';

/**
 * A participant written on plain node:http, as the participant contract allows: it sends no
 * content-type unless it means to, says no with a problem+json, and answers what the payload asks.
 * What the coordinator makes of those answers, and what an operator then sees.
 */
describe('a participant written by hand on node:http', () => {
  let s: TestStack;
  let server: Server;
  const calls: { phase: string; transactionId: string; branchId?: string }[] = [];

  /** The answer each payload `mode` asks for (a message's check answers committed, untyped). */
  const answers: Record<string, { status: number; headers?: Record<string, string>; body: string; delayMs?: number }> =
    {
      untyped: { status: 200, body: '{"balance":900}' },
      'no-with-nul': {
        status: 409,
        headers: { 'content-type': 'application/problem+json' },
        body: '{"detail":"insufficient funds","trace":"a\\u0000b"}',
      },
      'yes-with-nul': { status: 200, headers: { 'content-type': 'application/json' }, body: '{"v":"a\\u0000b"}' },
      no: { status: 409, headers: { 'content-type': 'application/problem+json' }, body: '{"detail":"no funds"}' },
      'slow-fail': { status: 500, body: '{"detail":"late"}', delayMs: 600 },
      'db-down': { status: 500, headers: { 'content-type': 'application/json' }, body: '{"detail":"db down"}' },
    };

  beforeAll(async () => {
    s = await startTestStack('hand_written', { env: { CALL_TIMEOUT_MS: '3000' } });
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        const call = JSON.parse(raw);
        calls.push({ phase: call.phase, transactionId: call.transactionId, branchId: call.branchId });
        // plain node:http: no content-type unless set
        if (call.phase === 'check') return res.writeHead(200).end('{"state":"committed"}');
        const answer = ['try', 'action'].includes(call.phase) ? answers[call.payload?.mode] : undefined;
        if (!answer) return res.writeHead(200).end('{}');
        setTimeout(() => res.writeHead(answer.status, answer.headers ?? {}).end(answer.body), answer.delayMs ?? 0);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect((await s.api.post('/v1/participants', { name: 'plain', url })).status).toBe(201);
  });

  afterAll(async () => {
    await s?.close();
    await new Promise((r) => server?.close(r));
  });

  const branch = (id: string, mode?: string) => ({ id, participant: 'plain', payload: mode ? { mode } : {} });

  it("reads a JSON reply sent without a content-type: a message's check that says committed delivers it", async () => {
    const id = 'untyped-check';
    const started = await s.api.post('/v1/transactions', {
      id,
      protocol: 'msg',
      mode: 'prepared',
      checkAfterMs: 200,
      timeoutMs: 10_000,
      check: { participant: 'plain', path: '/check' },
      branches: [branch('deliver')],
    });
    expect(started.status).toBe(201);
    const done = await s.api.until(`/v1/transactions/${id}`, (t: any) => ['committed', 'aborted'].includes(t.status));
    expect(done.status).toBe('committed');
    expect(calls.some((c) => c.transactionId === id && c.branchId === 'deliver')).toBe(true);
  });

  it("keeps an untyped JSON reply as the branch's result", async () => {
    const r = await s.api.post('/v1/transactions?wait=10000', { protocol: 'saga', branches: [branch('b', 'untyped')] });
    expect([r.status, r.body.status]).toEqual([200, 'committed']);
    expect(r.body.branches[0].result).toEqual({ balance: 900 });
  });

  it("keeps a no's reason when its reply cannot be stored", async () => {
    const r = await s.api.post('/v1/transactions?wait=10000', {
      protocol: 'saga',
      branches: [branch('b', 'no-with-nul')],
    });
    expect(r.body.status).toBe('aborted');
    expect(r.body.branches[0].lastError).toMatch(/^HTTP 409: insufficient funds; reply not stored: \$\.trace .*NUL/);
    expect(r.body.firstError.error).toBe(r.body.branches[0].lastError);
  });

  it('a yes whose reply cannot be stored is not the first error', async () => {
    const r = await s.api.post('/v1/transactions?wait=10000', {
      protocol: 'saga',
      branches: [branch('b', 'yes-with-nul')],
    });
    expect(r.body.status).toBe('committed');
    expect(r.body.branches[0].result).toBeNull();
    expect(r.body.branches[0].lastError).toMatch(/^reply not stored/);
    expect(r.body.firstError).toBeNull();
  });

  it('a try whose answer the abort overtook is not shown in flight once the transaction ended', async () => {
    const r = await s.api.post('/v1/transactions?wait=10000', {
      protocol: 'tcc',
      branches: [branch('slow', 'slow-fail'), branch('refuses', 'no')],
    });
    expect(r.body.status).toBe('aborted');
    const view = (await s.api.get(`/v1/transactions/${r.body.id}`)).body;
    expect(view.attempts.filter((a: any) => a.outcome === null)).toEqual([]);
    const slowTry = view.attempts.find((a: any) => a.branchId === 'slow' && a.phase === 'try');
    expect(slowTry).toMatchObject({ outcome: 'unknown', finishedAt: null, error: expect.stringMatching(/no answer/) });
    expect(view.firstError).toMatchObject({ branchId: 'refuses', error: 'HTTP 409: no funds' });
  });

  it("an interactive registration still being retried answers with the branch's last error", async () => {
    const id = 'interactive-retrying';
    const begun = await s.api.post('/v1/transactions', {
      id,
      protocol: 'tcc',
      mode: 'interactive',
      timeoutMs: 30_000,
      retry: { maxAttempts: 5, initialBackoffMs: 4_000, maxBackoffMs: 4_000 },
    });
    expect(begun.status).toBe(201);
    const r = await s.api.post(`/v1/transactions/${id}/branches?wait=0`, branch('a', 'db-down'));
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ retrying: true, lastError: 'HTTP 500: db down' });
    await until(async () => (await s.api.post(`/v1/transactions/${id}/abort`, { reason: 'done' })).status < 300);
  });
});
