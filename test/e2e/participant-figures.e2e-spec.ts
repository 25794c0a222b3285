import { startTestStack, TestParticipant, type TestStack } from '#testing';

/**
 * The figures an operator reads about a participant (its error rate and calls in the registry, its
 * failing calls in /v1/stats) count every call it received: the half-open probes of an open circuit
 * are calls too, and their failures are failures.
 */
describe('participant figures', () => {
  let s: TestStack;
  let down: TestParticipant;

  beforeAll(async () => {
    // the circuit opens after 2 failures and probes every 300 ms
    s = await startTestStack('figures', { env: { CIRCUIT_CONSECUTIVE_FAILURES: '2', CIRCUIT_HALF_OPEN_MS: '300' } });
    down = await TestParticipant.start();
    expect((await s.api.post('/v1/participants', { name: 'down', url: down.url })).status).toBe(201);
  });
  afterAll(async () => {
    await down?.close();
    await s?.close();
  });

  it('counts failed half-open probes as failing calls, in the registry and in /v1/stats', async () => {
    down.fault({ status: 503, times: 1_000_000 });
    const id = `figures-${Date.now()}`;
    const started = await s.api.post('/v1/transactions?wait=20000', {
      id,
      protocol: 'saga',
      timeoutMs: 3_000,
      retry: { maxAttempts: 8, initialBackoffMs: 50, maxBackoffMs: 100 },
      // nothing to undo: once the deadline aborts it, nothing more is sent
      branches: [{ id: 'a', participant: 'down', payload: {}, paths: { compensate: null } }],
    });
    expect(started.body.status).toBe('aborted');
    const probes = started.body.events.filter(
      (e: any) => e.type === 'call.deferred' && e.detail.reason === 'probe-failed',
    );
    expect(probes.length).toBeGreaterThan(0); // the circuit did open, and was probed

    const received = down.calls.length;
    const view = (await s.api.get('/v1/participants/down')).body;
    expect([view.calls, view.errorRate]).toEqual([received, 1]);
    const failing = (await s.api.get('/v1/stats?window=15m')).body.failingParticipants;
    expect(failing.find((p: any) => p.participant === 'down')).toMatchObject({ failures: received, calls: received });
  });
});
