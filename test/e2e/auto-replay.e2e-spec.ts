import { ParticipantLease } from '#participant';
import { BREAKERS_OFF, startTestStack, TestParticipant, type TestStack } from '#testing';

/**
 * `autoReplay`: the transactions that failed while a participant was broken are replayed without an
 * operator once it is healthy again (here: it crashed, its lease lapsed, it came back fixed), each
 * replay recorded like an operator's, with the actor `auto-replay`.
 */
describe('automatic replay', () => {
  let s: TestStack;
  let flaky: TestParticipant;
  let lease: ParticipantLease;

  beforeAll(async () => {
    // the breakers must not stop the failures this test needs: only the lease tells health here
    s = await startTestStack('auto-replay', {
      env: { ...BREAKERS_OFF, SWEEP_INTERVAL_MS: '300' },
    });
    flaky = await TestParticipant.start();
    const options = {
      coordinatorUrl: s.api.base,
      name: 'flaky',
      url: flaky.url,
      ttlSeconds: 1,
      heartbeatMs: 200,
      autoReplay: true,
    };
    lease = new ParticipantLease(options);
    await lease.start();
  });
  afterAll(async () => {
    await lease.stop();
    await flaky.close();
    await s.close();
  });

  it('finishes 20 transactions that failed while the participant was broken, without an operator', async () => {
    // broken: every compensation fails; p1 refuses b's action, so a (on flaky) must be compensated
    flaky.fault({ phase: 'compensate', status: 500, times: 1_000_000 });
    const ids = Array.from({ length: 20 }, (_, i) => `auto-${i}-${Date.now()}`);
    for (const id of ids)
      s.participant.fault({ transactionId: id, branchId: 'b', phase: 'action', status: 409, times: 1 });
    const answers = await Promise.all(
      ids.map((id) =>
        s.api.post('/v1/transactions?wait=30000', {
          id,
          protocol: 'saga',
          retry: { maxAttempts: 1, initialBackoffMs: 50, maxBackoffMs: 100 },
          branches: [
            { id: 'a', participant: 'flaky', payload: {} },
            { id: 'b', participant: 'p1', payload: {} },
          ],
        }),
      ),
    );
    expect(answers.map((r) => r.body.status)).toEqual(Array(20).fill('failed'));
    // it crashes (its lease lapses), and comes back fixed
    await lease.stop();
    await s.api.until('/v1/participants/flaky', (v: any) => v.status === 'stale' && v.healthySince === null);
    flaky.clearFaults();
    await lease.start();
    for (const id of ids) {
      const t = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'aborted', 30_000);
      // once, or again should a replayed call time out on a loaded machine: never by anyone else
      const replays = t.events.filter((e: any) => e.type === 'operator.replay');
      expect(replays.length).toBeGreaterThanOrEqual(1);
      for (const r of replays) {
        expect(r.detail).toEqual({ actor: 'auto-replay', reason: 'participant flaky is healthy again' });
      }
      expect(flaky.effects(id, 'a')).toEqual({ applied: 1, compensated: 1 });
    }
  });

  it('leaves a transaction that failed while its participant looked healthy all along to an operator', async () => {
    const steady = await TestParticipant.start();
    try {
      // registered healthy, and never unhealthy since: no recovery, so nothing to replay on its own
      const r = await s.api.post('/v1/participants', { name: 'steady', url: steady.url, autoReplay: true });
      expect(r.status).toBe(201);
      const id = `steady-${Date.now()}`;
      steady.fault({ transactionId: id, phase: 'compensate', status: 500, times: 1_000_000 });
      s.participant.fault({ transactionId: id, branchId: 'b', phase: 'action', status: 409, times: 1 });
      const failed = await s.api.post('/v1/transactions?wait=30000', {
        id,
        protocol: 'saga',
        retry: { maxAttempts: 1, initialBackoffMs: 50, maxBackoffMs: 100 },
        branches: [
          { id: 'a', participant: 'steady', payload: {} },
          { id: 'b', participant: 'p1', payload: {} },
        ],
      });
      expect(failed.body.status).toBe('failed');
      await new Promise((done) => setTimeout(done, 2_000)); // several sweeps (SWEEP_INTERVAL_MS 300)
      const t = (await s.api.get(`/v1/transactions/${id}`)).body;
      expect(t.status).toBe('failed');
      expect(t.events.filter((e: any) => e.type === 'operator.replay')).toEqual([]);
    } finally {
      await steady.close();
    }
  });
});

/**
 * A participant whose circuit opened while its transactions failed: once they are parked there is
 * nothing left to call it with, so no half-open probe would ever close the circuit, and it would
 * never count as healthy again. The sweep replays one of its failed transactions as the probe.
 */
describe('automatic replay after the circuit opened', () => {
  let s: TestStack;
  let broken: TestParticipant;

  beforeAll(async () => {
    s = await startTestStack('auto-replay-circuit', {
      env: { SWEEP_INTERVAL_MS: '300', CIRCUIT_CONSECUTIVE_FAILURES: '2', CIRCUIT_HALF_OPEN_MS: '1000' },
    });
    broken = await TestParticipant.start();
    const r = await s.api.post('/v1/participants', { name: 'broken', url: broken.url, autoReplay: true });
    expect(r.status).toBe(201);
  });
  afterAll(async () => {
    await broken.close();
    await s.close();
  });

  it('probes the open circuit with a replay once the participant heals, and then replays the rest', async () => {
    broken.fault({ phase: 'commit', status: 500, times: 1_000_000 });
    const ids = Array.from({ length: 3 }, (_, i) => `circuit-${i}-${Date.now()}`);
    // all prepared before the first commit fails: then every commit fails, and the circuit opens
    const answers = await Promise.all(
      ids.map((id) =>
        s.api.post('/v1/transactions?wait=20000', {
          id,
          protocol: '2pc',
          // the prepares only need to finish: 500 ms aborted them now and then on a loaded machine
          timeoutMs: 5_000,
          retry: { maxAttempts: 3, initialBackoffMs: 50, maxBackoffMs: 100 },
          branches: [
            { id: 'a', participant: 'p1', payload: {} },
            { id: 'b', participant: 'broken', payload: {} },
          ],
        }),
      ),
    );
    expect(answers.map((r) => r.body.status)).toEqual(['failed', 'failed', 'failed']);
    await s.api.until('/v1/participants/broken', (v: any) => v.instances[0].circuit === 'open');
    broken.clearFaults();
    // no other traffic: only the sweep can find out that it is back
    for (const id of ids) {
      const t = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'committed', 30_000);
      expect(t.events.some((e: any) => e.type === 'operator.replay' && e.detail.actor === 'auto-replay')).toBe(true);
      expect(broken.outcome(id, 'b')).toEqual({ applied: 1, committed: 1, undone: 0 });
    }
    const v = await s.api.get('/v1/participants/broken');
    expect(v.body.instances[0].circuit).toBe('closed');
    expect(v.body.healthySince).not.toBeNull();
  });
});
