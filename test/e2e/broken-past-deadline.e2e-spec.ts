import { startTestStack, type TestStack } from '#testing';

/**
 * A circuit breaker makes calls to a failing participant wait instead of burning attempts, but only
 * until the transaction's deadline: past it, the half-open probes that keep failing count, so a
 * compensation that can never succeed parks the saga as `failed` (visible, replayable) rather than
 * waiting for good; once the participant is healed, a replay finishes it.
 */
describe('a compensation against a participant that stays broken', () => {
  let s: TestStack;
  beforeAll(async () => {
    // the circuit opens after 2 failures in a row and probes every 500 ms
    s = await startTestStack('brokenpastdeadline', {
      env: { CIRCUIT_CONSECUTIVE_FAILURES: '2', CIRCUIT_HALF_OPEN_MS: '500' },
    });
  });
  afterAll(() => s.close());

  // with two instances both failing, a failed probe was never counted: another instance was live
  // (by its lease), although its circuit was open too, and the saga stayed aborting for good
  it.each([
    ['one instance', 'p1'],
    ['two instances, both broken', 'two'],
  ])('parks as failed once the deadline has passed (%s), and a replay after the heal aborts it', async (_, name) => {
    if (name === 'two') {
      for (const instanceId of ['two-a', 'two-b']) {
        const registered = await s.api.post('/v1/participants', { name, url: s.participant.url, instanceId });
        expect(registered.status).toBeLessThan(300);
      }
    }
    const id = `broken-${name}-${Date.now()}`;
    // b says no, so a is compensated; a's compensation answers 500 until healed
    s.participant.fault({ transactionId: id, branchId: 'b', phase: 'action', status: 409, times: 1, when: 'before' });
    s.participant.fault({ transactionId: id, branchId: 'a', phase: 'compensate', status: 500, times: 1_000 });
    const started = await s.api.post('/v1/transactions', {
      id,
      protocol: 'saga',
      timeoutMs: 3_000,
      retry: { maxAttempts: 6, initialBackoffMs: 100, maxBackoffMs: 200 },
      branches: [
        { id: 'a', participant: name, payload: {} },
        { id: 'b', participant: name, payload: {}, dependsOn: ['a'] },
      ],
    });
    expect(started.status).toBeLessThan(300);

    let view: any = null;
    for (let i = 0; i < 150 && view?.status !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      view = (await s.api.get(`/v1/transactions/${id}`)).body;
    }
    expect(view.status).toBe('failed');
    // the circuit opened on the way (some deliveries were deferred, not counted)
    expect(view.events.some((e: any) => e.type === 'call.deferred')).toBe(true);

    s.participant.clearFaults();
    const replay = await s.api.post(`/v1/transactions/${id}/replay`, { reason: 'healed' });
    expect(replay.status).toBeLessThan(300);
    let status = '';
    for (let i = 0; i < 100 && status !== 'aborted'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await s.api.get(`/v1/transactions/${id}`)).body.status;
    }
    expect(status).toBe('aborted');
    expect(s.participant.effects(id, 'a')).toEqual({ applied: 1, compensated: 1 });
  });
});
