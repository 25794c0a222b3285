import {
  CoordinatorProcess,
  TEST_REDIS_URL,
  TestParticipant,
  apiClient,
  freshRedisPrefix,
  startTestStack,
  until,
  type TestStack,
} from '#testing';

/**
 * Participant instances seen by two coordinators on one log: what one of them learns about an
 * instance (it left; its circuit opened) holds for the other at once, not after its cache or its
 * own breaker catch up.
 */
const saga = (id: string, participant = 'svc', extra: object = {}) => ({
  id,
  protocol: 'saga',
  timeoutMs: 120_000,
  branches: [
    { id: 'a', participant, payload: { n: 1 } },
    { id: 'b', participant, payload: { n: 2 } },
  ],
  ...extra,
});

/** A second coordinator on the stack's database, with its own queue: it drives what it starts. */
function secondCoordinator(s: TestStack, label: string, env: Record<string, string> = {}): CoordinatorProcess {
  return new CoordinatorProcess({
    databaseUrl: s.db.url,
    redisUrl: TEST_REDIS_URL,
    redisPrefix: freshRedisPrefix(label),
    env: { LOG_LEVEL: 'warn', ...env },
  });
}

describe('participant instances: leaving through another coordinator', () => {
  let s: TestStack;
  let other: CoordinatorProcess;
  let otherApi: ReturnType<typeof apiClient>;
  let leaving: TestParticipant;
  let staying: TestParticipant;

  beforeAll(async () => {
    s = await startTestStack('instances-leave');
    other = secondCoordinator(s, 'instances-leave-2');
    otherApi = apiClient(await other.start());
    leaving = await TestParticipant.start();
    staying = await TestParticipant.start({ sharedWith: leaving });
    for (const [id, p] of [
      ['leaving', leaving],
      ['staying', staying],
    ] as const) {
      expect((await s.api.post('/v1/participants', { name: 'svc', instanceId: id, url: p.url })).status).toBeLessThan(
        300,
      );
    }
  });
  afterAll(async () => {
    await other?.stop();
    await Promise.all([leaving?.close(), staying?.close()]);
    await s?.close();
  });

  it('gets no new call from any coordinator once its leave is answered', async () => {
    // the other coordinator drives sagas on both instances without a pause, before, during and after the leave
    let running = true;
    const drive = async (loop: number) => {
      for (let i = 0; running; i++) {
        const answer = await otherApi.post('/v1/transactions?wait=10000', saga(`leave-${loop}-${i}`));
        expect(answer.body.status).toBe('committed');
      }
    };
    const loops = [0, 1, 2, 3].map(drive);
    await until(async () => leaving.calls.length > 20 && staying.calls.length > 20);
    const left = await s.api.delete('/v1/participants/svc/instances/leaving');
    expect(left.status).toBe(200);
    const answeredAt = Date.now();
    const before = staying.calls.length;
    await until(async () => staying.calls.length > before + 60);
    running = false;
    await Promise.all(loops);
    expect(leaving.calls.filter((c) => c.receivedAt > answeredAt).map((c) => c.body.transactionId)).toEqual([]);
  });
});

describe('participant instances: a circuit another coordinator opened', () => {
  const env = { CIRCUIT_CONSECUTIVE_FAILURES: '3', CIRCUIT_HALF_OPEN_MS: '600000' };
  let s: TestStack;
  let other: CoordinatorProcess;
  let down: TestParticipant;

  beforeAll(async () => {
    s = await startTestStack('instances-circuit', { env });
    other = secondCoordinator(s, 'instances-circuit-2', env);
    await other.start();
    down = await TestParticipant.start();
    down.fault({ status: 503, times: 1_000 });
    expect((await s.api.post('/v1/participants', { name: 'down', instanceId: 'only', url: down.url })).status).toBe(
      201,
    );
  });
  afterAll(async () => {
    await other?.stop();
    await down?.close();
    await s?.close();
  });

  it('makes the other coordinator wait for the probe too, burning no attempt of its transactions', async () => {
    const once = { retry: { maxAttempts: 1, initialBackoffMs: 10, maxBackoffMs: 10 } };
    // its calls (actions, then compensations) fail on this coordinator until its breaker opens
    for (let i = 0; i < 2; i++) await s.api.post('/v1/transactions?wait=10000', saga(`opens-${i}`, 'down', once));
    await s.api.until('/v1/participants/down', (v: any) => v.instances[0].circuit === 'open');
    // the other coordinator never called the instance: its own breaker is closed
    const otherApi = apiClient(other.url);
    const id = 'waits-for-the-probe';
    const ended = await otherApi.post(
      '/v1/transactions?wait=20000',
      saga(id, 'down', { timeoutMs: 2_000, retry: { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 10 } }),
    );
    expect(ended.body.status).toBe('aborted');
    expect(down.callsFor(id)).toEqual([]);
    const view = (await otherApi.get(`/v1/transactions/${id}`)).body;
    expect(view.events.filter((e: any) => e.type === 'call.deferred').map((e: any) => e.detail?.reason)).toContain(
      'circuit-open',
    );
  });
});
