import { startTestStack, TestParticipant, until, type TestStack } from '#testing';

/**
 * A participant's `maxConcurrency` and `ratePerSecond` bound what the coordinator sends it, however
 * large the backlog (docs/failure-detection.md). The participant counts what it receives itself.
 */
describe('participant limits', () => {
  let s: TestStack;
  const participants: TestParticipant[] = [];

  beforeAll(async () => {
    // production timings: a burst of 200 on a small machine must not make the coordinator fence itself
    s = await startTestStack('limits', { env: { INSTANCE_TTL_MS: '10000', CALL_TIMEOUT_MS: '10000' } });
  });
  afterAll(async () => {
    await Promise.all(participants.map((p) => p.close()));
    await s.close();
  });

  async function participant(name: string, limits: Record<string, number>): Promise<TestParticipant> {
    const p = await TestParticipant.start();
    participants.push(p);
    const r = await s.api.post('/v1/participants', { name, url: p.url, ...limits });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject(limits);
    return p;
  }

  const saga = (id: string, name: string) => ({
    id,
    protocol: 'saga',
    timeoutMs: 120_000,
    branches: [{ id: 'a', participant: name, payload: {} }],
  });

  it('keeps at most maxConcurrency calls in flight under a burst of 200 transactions', async () => {
    const p = await participant('narrow', { maxConcurrency: 4 });
    p.latencyMs = 50; // each call takes a while, so a burst piles up
    const ids = Array.from({ length: 200 }, (_, i) => `burst-${i}-${Date.now()}`);
    const answers = await Promise.all(ids.map((id) => s.api.post('/v1/transactions?wait=60000', saga(id, 'narrow'))));
    expect(answers.map((r) => r.body.status)).toEqual(Array(200).fill('committed'));
    for (const id of ids) expect(p.effects(id, 'a').applied).toBe(1);
    // the limit was reached (the burst did pile up) and never passed
    expect(p.maxConcurrent).toBe(4);
  });

  it('never sends a forward call whose transaction deadline passed while it waited for a slot', async () => {
    const p = await participant('single', { maxConcurrency: 1 });
    const holder = `holder-${Date.now()}`;
    const late = `late-${Date.now()}`;
    // the holder's action keeps the only slot for 1.5 s; the late saga's deadline is 0.5 s away
    p.fault({ transactionId: holder, branchId: 'a', phase: 'action', status: 200, times: 1, delayMs: 1_500 });
    const held = s.api.post('/v1/transactions?wait=20000', saga(holder, 'single'));
    await s.api.until('/v1/participants/single', () => p.calls.length === 1, 10_000);
    const answer = await s.api.post('/v1/transactions?wait=20000', { ...saga(late, 'single'), timeoutMs: 500 });
    expect(answer.body.status).toBe('aborted');
    expect((await held).body.status).toBe('committed');
    expect(p.callsFor(late)).toEqual([]); // nothing went out after the deadline, not even a compensation
  });

  it('shows a call deferred by the limit before it was ever delivered as scheduled, not retrying', async () => {
    await participant('trickle', { ratePerSecond: 1 });
    const ids = Array.from({ length: 6 }, (_, i) => `trickle-${i}-${Date.now()}`);
    for (const id of ids) expect((await s.api.post('/v1/transactions', saga(id, 'trickle'))).status).toBe(201);
    // a backlog of several seconds: the last ones are deferred durably, not yet called
    let deferred: any;
    await until(
      async () => {
        for (const id of ids) {
          const t = (await s.api.get(`/v1/transactions/${id}`)).body;
          if (t.status === 'running' && t.branches[0].nextAttemptAt && t.branches[0].attempt === 0) deferred = t;
        }
        return deferred !== undefined;
      },
      10_000,
      'a deferred call',
    );
    expect(deferred.branches[0]).toMatchObject({ retrying: false, lastError: null });
    expect(deferred.attention).toBe('healthy');
    const retrying = await s.api.get('/v1/transactions?attention=retrying&participant=trickle');
    expect(retrying.body.items.map((t: any) => t.id)).not.toContain(deferred.id);
    for (const id of ids) await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'committed', 30_000);
  });

  it('holds ratePerSecond within 10% over 10 seconds', async () => {
    const rate = 20;
    const p = await participant('paced', { ratePerSecond: rate });
    // a backlog of 15 seconds' worth, started at once
    const ids = Array.from({ length: rate * 15 }, (_, i) => `paced-${i}-${Date.now()}`);
    const started = await Promise.all(ids.map((id) => s.api.post('/v1/transactions', saga(id, 'paced'))));
    expect(started.every((r) => r.status === 201)).toBe(true);
    await s.api.until('/v1/participants/paced', () => p.calls.length >= rate * 11, 40_000);
    const first = p.calls[0].receivedAt;
    const inTenSeconds = p.calls.filter((c) => c.receivedAt < first + 10_000).length;
    expect(inTenSeconds).toBeGreaterThanOrEqual(rate * 10 * 0.9);
    expect(inTenSeconds).toBeLessThanOrEqual(rate * 10 * 1.1);
    for (const id of ids) await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'committed', 40_000);
  });
});
