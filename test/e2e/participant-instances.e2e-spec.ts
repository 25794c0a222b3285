import { ParticipantLease } from '#participant';
import { startTestStack, TestParticipant, type TestStack } from '#testing';

/**
 * Several instances of one participant (docs/failure-detection.md): calls are balanced over the live
 * ones; an instance whose lease lapsed gets no call; an instance that keeps failing has its circuit
 * opened and the others take the load; with no instance to call, calls wait (burning no attempt)
 * until one is back. In no case does a transaction fail.
 */
const saga = (id: string, participant = 'svc') => ({
  id,
  protocol: 'saga',
  timeoutMs: 120_000,
  branches: [
    { id: 'a', participant, payload: { n: 1 } },
    { id: 'b', participant, payload: { n: 2 } },
  ],
});

/** Starts `n` sagas and waits for every one to settle; answers their final statuses. */
async function runSagas(s: TestStack, prefix: string, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}-${Date.now()}`);
  const answers = await Promise.all(ids.map((id) => s.api.post('/v1/transactions?wait=30000', saga(id))));
  return answers.map((r) => r.body.status);
}

function instance(view: any, id: string): any {
  return view.instances.find((i: any) => i.instanceId === id);
}

describe('participant instances: leases and circuits', () => {
  let s: TestStack;
  const instances: Record<string, TestParticipant> = {};
  const leases: Record<string, ParticipantLease> = {};

  beforeAll(async () => {
    // a circuit opens after 3 failures in a row and stays open far longer than this file runs
    s = await startTestStack('instances', {
      env: { CIRCUIT_CONSECUTIVE_FAILURES: '3', CIRCUIT_HALF_OPEN_MS: '600000', NO_INSTANCE_RETRY_MS: '300' },
    });
    for (const id of ['one', 'two', 'three']) {
      instances[id] = await TestParticipant.start({ sharedWith: instances.one });
      leases[id] = new ParticipantLease({
        coordinatorUrl: s.api.base,
        name: 'svc',
        instanceId: id,
        url: instances[id].url,
        ttlSeconds: 1,
        heartbeatMs: 200,
        metadata: { zone: id },
      });
      await leases[id].start();
    }
  });
  afterAll(async () => {
    await Promise.all(Object.values(leases).map((l) => l.stop()));
    await Promise.all(Object.values(instances).map((p) => p.close()));
    await s.close();
  });

  it('lists every instance up, and balances calls over them', async () => {
    const view = (await s.api.get('/v1/participants/svc')).body;
    expect(view.instances.map((i: any) => [i.instanceId, i.status, i.circuit])).toEqual([
      ['one', 'up', 'closed'],
      ['two', 'up', 'closed'],
      ['three', 'up', 'closed'],
    ]);
    expect(instance(view, 'two')).toMatchObject({
      ttlSeconds: 1,
      metadata: { zone: 'two' },
      url: `${instances.two.url}/`,
    });
    expect(await runSagas(s, 'balanced', 30)).toEqual(Array(30).fill('committed'));
    for (const p of Object.values(instances)) expect(p.calls.length).toBeGreaterThan(0);
  });

  it('calls no instance whose lease lapsed, and fails nothing', async () => {
    await leases.two.stop();
    await s.api.until('/v1/participants/svc', (v: any) => instance(v, 'two').status === 'expired');
    const before = instances.two.calls.length;
    expect(await runSagas(s, 'lapsed', 30)).toEqual(Array(30).fill('committed'));
    expect(instances.two.calls.length).toBe(before);
  });

  it('opens the circuit of an instance answering 503: the third takes the load, nothing fails', async () => {
    instances.three.fault({ status: 503, times: 1_000_000 });
    expect(await runSagas(s, 'failing', 30)).toEqual(Array(30).fill('committed'));
    const view = await s.api.until('/v1/participants/svc', (v: any) => instance(v, 'three').circuit === 'open');
    expect(instance(view, 'three')).toMatchObject({ status: 'up', circuit: 'open' });
    expect(instance(view, 'three').errorRate).toBeGreaterThan(0);
    // the circuit is open: the next transactions all go to the one instance left
    const [one, three] = [instances.one.calls.length, instances.three.calls.length];
    expect(await runSagas(s, 'moved', 30)).toEqual(Array(30).fill('committed'));
    expect(instances.three.calls.length).toBe(three);
    expect(instances.one.calls.length).toBe(one + 60);
    const metrics = await fetch(`${s.api.base}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/txc_participant_circuit_state\{participant="svc",instance="three"\} 2/);
  });

  it('makes calls wait, burning no attempt, while no instance is live, and finishes them once one is back', async () => {
    await Promise.all([leases.one.stop(), leases.three.stop()]);
    await s.api.until('/v1/participants/svc', (v: any) => v.status === 'stale');
    const ids = Array.from({ length: 5 }, (_, i) => `waiting-${i}-${Date.now()}`);
    for (const id of ids) {
      const started = await s.api.post('/v1/transactions', {
        ...saga(id),
        retry: { maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 100 },
      });
      expect(started.status).toBe(201);
    }
    // several deferrals each, far more than the two attempts of the budget, and nothing called
    for (const id of ids) {
      const t = await s.api.until(
        `/v1/transactions/${id}`,
        (t: any) => t.events.filter((e: any) => e.type === 'call.deferred').length >= 3,
      );
      expect(t.status).toBe('running');
      expect(t.events.find((e: any) => e.type === 'call.deferred').detail).toMatchObject({
        reason: 'no-live-instance',
      });
    }
    const calledWhileDown = ids.flatMap((id) => Object.values(instances).flatMap((p) => p.callsFor(id)));
    expect(calledWhileDown).toEqual([]);
    await leases.two.start();
    for (const id of ids) {
      const t = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status !== 'running', 20_000);
      expect(t.status).toBe('committed');
      expect(t.branches.map((b: any) => b.attempt)).toEqual([1, 1]);
    }
  });

  it('drains an instance that leaves: no new call, shown draining', async () => {
    await leases.two.stop({ leave: true });
    const view = (await s.api.get('/v1/participants/svc')).body;
    expect(instance(view, 'two').status).toBe('draining');
    expect((await s.api.delete('/v1/participants/svc/instances/nope')).status).toBe(404);
  });

  it('keeps an instance an operator removed out, although its lease still renews: the heartbeat is 409', async () => {
    await leases.two.start();
    expect(instance((await s.api.get('/v1/participants/svc')).body, 'two').status).toBe('up');
    expect((await s.api.delete('/v1/participants/svc/instances/two')).status).toBe(200);
    // a few heartbeat periods (200 ms): the SDK does not register it again
    await new Promise((r) => setTimeout(r, 1_000));
    expect(instance((await s.api.get('/v1/participants/svc')).body, 'two').status).toBe('draining');
    const beat = await s.api.post('/v1/participants/svc/heartbeat', { instanceId: 'two' });
    expect([beat.status, beat.body.type]).toEqual([409, '/problems/participant_conflict']);
    await leases.two.start(); // registering again brings it back
    expect(instance((await s.api.get('/v1/participants/svc')).body, 'two').status).toBe('up');
    await leases.two.stop({ leave: true });
  });

  it('renews and removes an instance named by its URL in any spelling of it (the SDK lease without instanceId)', async () => {
    const bare = instances.one.url.replace(/\/+$/, ''); // stored as `${bare}/`
    const lease = new ParticipantLease({
      coordinatorUrl: s.api.base,
      name: 'svc-bare',
      url: bare,
      ttlSeconds: 30,
      heartbeatMs: 200,
    });
    await lease.start();
    const view = (await s.api.get('/v1/participants/svc-bare')).body;
    expect(view.instances.map((i: any) => i.instanceId)).toEqual([`${bare}/`]);
    const renewed = await s.api.post('/v1/participants/svc-bare/heartbeat', { instanceId: bare });
    expect(renewed.status).toBe(200);
    await lease.stop({ leave: true });
    expect(instance((await s.api.get('/v1/participants/svc-bare')).body, `${bare}/`).status).toBe('draining');
  });

  it('refuses a heartbeat that names no instance when several are named by their URL, and a refused one moves nothing', async () => {
    for (const url of [instances.one.url, instances.two.url]) {
      expect((await s.api.post('/v1/participants', { name: 'svc-urls', url, ttlSeconds: 60 })).status).toBeLessThan(
        300,
      );
    }
    const before = (await s.api.get('/v1/participants/svc-urls')).body;
    await new Promise((r) => setTimeout(r, 20)); // a renewal would show a later lastSeenAt
    const unnamed = await s.api.post('/v1/participants/svc-urls/heartbeat', {});
    expect([unnamed.status, unnamed.body.errors?.[0]?.field]).toEqual([422, 'instanceId']);
    expect(unnamed.body.detail).toMatch(/2 instances registered without an instanceId/);
    expect((await s.api.post('/v1/participants/svc-urls/heartbeat', { instanceId: 'nope' })).status).toBe(404);
    const after = (await s.api.get('/v1/participants/svc-urls')).body;
    expect(after.lastSeenAt).toBe(before.lastSeenAt);
    expect(after.instances.map((i: any) => i.lastSeenAt)).toEqual(before.instances.map((i: any) => i.lastSeenAt));

    const named = await s.api.post('/v1/participants/svc-urls/heartbeat', {
      instanceId: before.instances[0].instanceId,
    });
    expect(named.status).toBe(200);
    expect(named.body.lastSeenAt > before.lastSeenAt).toBe(true);
    expect(instance(named.body, before.instances[1].instanceId).lastSeenAt).toBe(before.instances[1].lastSeenAt);
  });

  it('removes an instance named by a long URL through its path (an id longer than any other path segment)', async () => {
    const registered = await s.api.post('/v1/participants', {
      name: 'svc-long-url',
      url: `${instances.one.url}/${'y'.repeat(600)}`,
    });
    expect(registered.status).toBe(201);
    const url: string = registered.body.url;
    const left = await s.api.delete(`/v1/participants/svc-long-url/instances/${encodeURIComponent(url)}`);
    expect(left.status).toBe(200);
    expect(instance(left.body, url).status).toBe('draining');
    // any other segment keeps its bound: a transaction id is at most 128 characters, encoded 384 bytes
    expect((await s.api.get(`/v1/transactions/${'%41'.repeat(129)}`)).status).toBe(414);
  });

  // an instance's series (its calls, its circuit) stayed in /metrics for good once it was gone: one
  // more per pod that ever ran, as instance ids are the participant's to choose
  it('forgets the metrics of an instance once it is no longer registered', async () => {
    const registered = await s.api.post('/v1/participants', {
      name: 'svc-gone',
      url: instances.one.url,
      instanceId: 'pod-gone',
    });
    expect(registered.status).toBe(201);
    const done = await s.api.post('/v1/transactions?wait=10000', saga(`gone-${Date.now()}`, 'svc-gone'));
    expect(done.body.status).toBe('committed');
    const series = async () =>
      (await fetch(`${s.api.base}/metrics`).then((r) => r.text()))
        .split('\n')
        .filter((line) => line.includes('instance="pod-gone"'));
    expect(await series()).not.toEqual([]);
    expect((await s.api.delete('/v1/participants/svc-gone')).status).toBe(204);
    let left = await series();
    for (let i = 0; i < 150 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = await series();
    }
    expect(left).toEqual([]);
  });
});

describe('participant instances: all down longer than the retry budget', () => {
  let s: TestStack;
  const instances: TestParticipant[] = [];

  beforeAll(async () => {
    s = await startTestStack('instances-down', {
      env: { CIRCUIT_CONSECUTIVE_FAILURES: '2', CIRCUIT_HALF_OPEN_MS: '1000' },
    });
    for (const id of ['x', 'y', 'z']) {
      const p = await TestParticipant.start({ sharedWith: instances[0] });
      instances.push(p);
      const r = await s.api.post('/v1/participants', { name: 'svc', instanceId: id, url: p.url });
      expect(r.status).toBe(201);
    }
  });
  afterAll(async () => {
    await Promise.all(instances.map((p) => p.close()));
    await s.close();
  });

  it('parks nothing as failed while the circuits are open, and finishes everything once they are back', async () => {
    for (const p of instances) p.fault({ status: 503, times: 1_000_000 });
    const ids = Array.from({ length: 10 }, (_, i) => `down-${i}-${Date.now()}`);
    // a retry budget of 3 attempts spent in well under a second
    const retry = { maxAttempts: 3, initialBackoffMs: 50, maxBackoffMs: 100 };
    for (const id of ids) {
      const r = await s.api.post('/v1/transactions', {
        id,
        protocol: 'saga',
        timeoutMs: 120_000,
        retry,
        branches: [{ id: 'a', participant: 'svc', payload: {} }],
      });
      expect(r.status).toBe(201);
    }
    await s.api.until('/v1/participants/svc', (v: any) => v.instances.every((i: any) => i.circuit !== 'closed'));
    // several half-open probes per instance have failed: each would have used an attempt
    await s.api.until('/v1/participants/svc', () => instances.every((p) => p.calls.length >= 6), 30_000);
    for (const id of ids) {
      // waiting for the participant, its action's attempts unspent, before the deadline: not given up on
      const t = (await s.api.get(`/v1/transactions/${id}`)).body;
      expect(t.status).toBe('running');
    }
    for (const p of instances) p.clearFaults();
    for (const id of ids) {
      const t = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status !== 'running', 30_000);
      expect(t.status).toBe('committed');
    }
  });
});
