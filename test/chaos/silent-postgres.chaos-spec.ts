import {
  CoordinatorProcess,
  TEST_REDIS_URL,
  TcpProxy,
  TestParticipant,
  apiClient,
  freshDatabase,
  freshRedisPrefix,
  type FreshDatabase,
} from '#testing';

/**
 * Postgres goes silent (a partition that drops packets: connections stay open, nothing answers,
 * new ones are never answered either). A request that needs the log used to wait for as long as the
 * partition lasted, which TCP alone takes a quarter of an hour or more to notice; it now answers
 * 503 `store_unavailable` once DB_QUERY_TIMEOUT_MS has passed, and once the partition heals every
 * transaction acknowledged before it reaches a final state.
 */
describe('a Postgres that stops answering', () => {
  let db: FreshDatabase;
  let proxy: TcpProxy;
  let participant: TestParticipant;
  let coordinator: CoordinatorProcess;

  beforeAll(async () => {
    db = await freshDatabase('silent_pg');
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) });
    participant = await TestParticipant.start();
    coordinator = new CoordinatorProcess({
      databaseUrl: proxy.through(db.url),
      redisUrl: TEST_REDIS_URL,
      redisPrefix: freshRedisPrefix('silent_pg'),
    });
  });
  afterAll(async () => {
    await coordinator?.stop();
    await proxy?.close();
    await participant?.close();
    await db?.drop();
  });

  it('answers 503 while it is silent, and finishes what it acknowledged once it answers again', async () => {
    const api = apiClient(await coordinator.start({ DB_QUERY_TIMEOUT_MS: '2000', LOG_LEVEL: 'error' }));
    expect((await api.post('/v1/participants', { name: 'p1', url: participant.url })).status).toBe(201);
    const saga = (id: string) => ({
      id,
      protocol: 'saga',
      branches: [{ id: 'a', participant: 'p1', payload: {} }],
    });
    // acknowledged; its participant answers once the partition has begun
    participant.fault({
      transactionId: 'before',
      branchId: 'a',
      phase: 'action',
      status: 200,
      times: 1,
      delayMs: 1_500,
    });
    expect((await api.post('/v1/transactions', saga('before'))).status).toBe(201);
    proxy.pause();

    // each bounded here, so that a request that hangs fails the test rather than stalling it
    const during = await within(20_000, api.base + '/v1/transactions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(saga('during')),
    });
    expect([during.status, during.type]).toEqual([503, '/problems/store_unavailable']);
    const read = await within(20_000, api.base + '/v1/transactions/before');
    expect([read.status, read.type]).toEqual([503, '/problems/store_unavailable']);
    // the participant registry (its own pool) is bounded the same way
    const registered = await within(20_000, api.base + '/v1/participants', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'p2', url: participant.url }),
    });
    expect([registered.status, registered.type]).toEqual([503, '/problems/store_unavailable']);

    proxy.resume();
    const settled = await api.until(
      '/v1/transactions/before',
      (t: { status?: string }) => t.status === 'committed',
      30_000,
    );
    expect(settled.status).toBe('committed');
    // refused with 503, it may still have been written (its write was sent before it timed out): then
    // it finishes like any other, never stuck
    const refused = await api.get('/v1/transactions/during');
    if (refused.status !== 404) {
      await api.until('/v1/transactions/during', (t: { status?: string }) => t.status === 'committed', 30_000);
    }
  });
});

/** A request that fails (rather than hangs) when no answer came within `ms`: its status and problem type. */
async function within(ms: number, url: string, init: RequestInit = {}): Promise<{ status: number; type?: string }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(ms) });
  const body = (await res.json()) as { type?: string };
  return { status: res.status, type: body.type };
}
