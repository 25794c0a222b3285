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
 * Two coordinators on one log; A reaches Postgres through a proxy that is then partitioned for
 * longer than the instance TTL while A is driving transactions. A's own heartbeat is overdue, so
 * A stops driving (self-fencing) before B may take its work; B takes the transactions over and
 * finishes them; when the partition heals, A's queued writes are fenced off by the version and A
 * drives again. Nothing is applied twice.
 */
describe('self-fencing of an instance cut off from Postgres', () => {
  let db: FreshDatabase;
  let proxy: TcpProxy;
  let participant: TestParticipant;
  let a: CoordinatorProcess;
  let b: CoordinatorProcess;
  const prefix = freshRedisPrefix('fence');
  const env = { LOG_LEVEL: 'log', INSTANCE_TTL_MS: '3000', SWEEP_INTERVAL_MS: '200', CALL_TIMEOUT_MS: '3000' };

  beforeAll(async () => {
    db = await freshDatabase('fence');
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) });
    participant = await TestParticipant.start();
    a = new CoordinatorProcess({ databaseUrl: proxy.through(db.url), redisUrl: TEST_REDIS_URL, redisPrefix: prefix });
    b = new CoordinatorProcess({ databaseUrl: db.url, redisUrl: TEST_REDIS_URL, redisPrefix: prefix });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await proxy?.close();
    await participant?.close();
    await db?.drop();
  });

  it('stops driving while its heartbeat is overdue, and nothing is applied twice', async () => {
    const apiA = apiClient(await a.start(env));
    const apiB = apiClient(await b.start(env));
    expect((await apiA.post('/v1/participants', { name: 'p1', url: participant.url })).status).toBe(201);
    const ids = Array.from({ length: 6 }, (_, i) => `fence-${Date.now()}-${i}`);
    // each first action is slow, so A is holding every transaction when the partition starts
    for (const id of ids) {
      participant.fault({
        transactionId: id,
        branchId: 's1',
        phase: 'action',
        status: 200,
        times: 1,
        delayMs: 1_500,
        when: 'after',
      });
      const r = await apiA.post('/v1/transactions', {
        id,
        protocol: 'saga',
        branches: ['s1', 's2'].map((s) => ({ id: s, participant: 'p1', payload: { s } })),
      });
      expect(r.status).toBe(201);
    }
    proxy.pause();
    await new Promise((r) => setTimeout(r, 5_000)); // longer than INSTANCE_TTL_MS
    expect(a.log).toMatch(/heartbeat overdue: this instance stops driving/);
    // its drivers are stopped, not left waiting on their writes to land after B took over
    // (a scrape answers while Postgres is unreachable: the gauges read from the log give up after a second)
    const scrape = await fetch(`${a.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    const driving = /^txc_transactions_driving (\d+)$/m.exec(await scrape.text());
    expect(driving?.[1]).toBe('0');
    // B has taken A's transactions over and finished them, while A is still cut off
    for (const id of ids) {
      await apiB.until(`/v1/transactions/${id}`, (t: any) => t.status === 'committed', 20_000);
    }
    proxy.resume();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(a.log).toMatch(/heartbeat restored/);
    for (const id of ids) {
      for (const s of ['s1', 's2']) expect(participant.outcome(id, s)).toEqual({ applied: 1, committed: 0, undone: 0 });
      expect((await apiA.get(`/v1/transactions/${id}`)).body.status).toBe('committed');
    }
    // A drives again: a new transaction through A commits
    const after = await apiA.post('/v1/transactions?wait=10000', {
      protocol: 'saga',
      branches: [{ id: 'x', participant: 'p1' }],
    });
    expect(after.body.status).toBe('committed');
  });
});
