import { Pool } from 'pg';
import { Phase } from '#contracts';
import {
  CoordinatorProcess,
  TEST_REDIS_URL,
  TestParticipant,
  apiClient,
  freshDatabase,
  freshRedisPrefix,
  type ApiClient,
  type FreshDatabase,
  until,
} from '#testing';

/**
 * An interactive transaction asked of two instances: an instance that takes it over for a call
 * that ends up writing nothing (a repeated registration, a refused one) lets it go at once, so the
 * other instance's commit or abort is not kept waiting; an abort accepted by one instance aborts an
 * idle transaction another instance began.
 */
describe('interactive transactions across two instances', () => {
  let db: FreshDatabase;
  let participant: TestParticipant;
  const instances: CoordinatorProcess[] = [];
  let a: ApiClient;
  let b: ApiClient;

  beforeAll(async () => {
    db = await freshDatabase('interactive_two');
    const redisPrefix = freshRedisPrefix('interactive-two'); // one deployment: one Redis prefix
    for (let i = 0; i < 2; i++) {
      instances.push(
        new CoordinatorProcess({
          databaseUrl: db.url,
          redisUrl: TEST_REDIS_URL,
          redisPrefix,
          env: { LOG_LEVEL: 'warn' },
        }),
      );
    }
    [a, b] = (await Promise.all(instances.map((c) => c.start()))).map((url) => apiClient(url));
    participant = await TestParticipant.start();
    expect((await a.post('/v1/participants', { name: 'p1', url: participant.url })).status).toBe(201);
  });

  afterAll(async () => {
    await Promise.all(instances.map((c) => c.stop()));
    await participant?.close();
    await db?.drop();
  });

  /** Which instance holds the transaction now (null: none; any instance may take it). */
  async function owner(id: string): Promise<string | null> {
    const pool = new Pool({ connectionString: db.url, max: 1 });
    try {
      return (await pool.query('SELECT owner FROM txc_transactions WHERE id = $1', [id])).rows[0].owner;
    } finally {
      await pool.end();
    }
  }

  async function begun(id: string) {
    const r = await a.post('/v1/transactions', { id, protocol: 'tcc', mode: 'interactive', timeoutMs: 60_000 });
    expect(r.status).toBe(201);
    const branch = { id: 'hold', participant: 'p1', payload: { n: 1 } };
    expect((await a.post(`/v1/transactions/${id}/branches`, branch)).status).toBe(200);
    return branch;
  }

  it.each([
    ['the same registration repeated', 200, {}],
    ['a conflicting registration', 409, { payload: { n: 2 } }],
  ])('after %s at the other instance, a commit at the first answers at once', async (_what, status, change) => {
    const id = `two-${status}`;
    const branch = await begun(id);
    expect((await b.post(`/v1/transactions/${id}/branches`, { ...branch, ...change })).status).toBe(status);
    expect(await owner(id)).toBeNull(); // it wrote nothing, and holds nothing

    const committed = await a.post(`/v1/transactions/${id}/commit?wait=10000`);
    expect([committed.status, committed.body.status]).toEqual([200, 'committed']);
    expect(participant.callsFor(id).map((c) => c.body.phase)).toEqual(['try', 'confirm']);
  });

  it('an abort accepted by one instance aborts an idle transaction the other took over, and a commit after it is refused', async () => {
    const id = 'two-abort';
    const branch = await begun(id);
    // the other instance takes it over (a repeated registration)
    expect((await b.post(`/v1/transactions/${id}/branches`, branch)).status).toBe(200);
    expect(await owner(id)).toBeNull();

    expect((await a.post(`/v1/transactions/${id}/abort`, { reason: 'customer left' })).status).toBe(202);
    // long before its 60 s deadline
    const done = await a.until(`/v1/transactions/${id}`, (t: any) => t.status === 'aborted', 10_000);
    expect(done.events.filter((e: any) => e.type === 'operator.abort')).toHaveLength(1);
    expect((await b.post(`/v1/transactions/${id}/commit`)).status).toBe(409);
    expect(participant.callsFor(id).map((c) => c.body.phase)).toEqual(['try', 'cancel']);
  });

  // the owner (a) waits 1.5 s for a try; the first abort reaches the other instance (b), which flags it
  it.each([
    ['the non-owner again, while a branch saying no aborts it first', 'b', 409],
    ['the owner, before its driver met the flag', 'a', 200],
  ] as const)(
    'an abort accepted by the non-owner is the one recorded; a second, at %s, is 200',
    async (_where, second, tryAnswer) => {
      const id = `two-aborts-${second}`;
      participant.fault({
        transactionId: id,
        branchId: 'b1',
        phase: Phase.Try,
        status: tryAnswer,
        times: 1,
        delayMs: 1_500,
      });
      const started = await a.post('/v1/transactions', {
        id,
        protocol: 'tcc',
        branches: [{ id: 'b1', participant: 'p1', payload: {} }],
      });
      expect(started.status).toBe(201);
      await until(() => participant.callsFor(id).length === 1, 10_000, 'the try');
      expect((await b.post(`/v1/transactions/${id}/abort`, { reason: 'first' })).status).toBe(202);
      const again = second === 'a' ? a : b;
      expect((await again.post(`/v1/transactions/${id}/abort`, { reason: 'second' })).status).toBe(200);
      const done = await a.until(`/v1/transactions/${id}`, (t: any) => t.status === 'aborted', 15_000);
      const asked = done.events.filter((e: any) => e.type === 'operator.abort').map((e: any) => e.detail.reason);
      expect(asked).toEqual(['first']);
      expect(done.error).toMatch(/first/);
    },
  );

  it('a branch registered at the owner after the other instance accepted an abort is refused, and never called', async () => {
    const id = 'two-abort-then-register';
    expect(
      (await a.post('/v1/transactions', { id, protocol: 'tcc', mode: 'interactive', timeoutMs: 60_000 })).status,
    ).toBe(201);
    participant.fault({ transactionId: id, branchId: 'b1', phase: Phase.Try, status: 200, times: 1, delayMs: 2_000 });
    const first = a.post(`/v1/transactions/${id}/branches`, { id: 'b1', participant: 'p1', payload: {} });
    await until(() => participant.callsFor(id).length === 1, 10_000, "b1's try");
    expect((await b.post(`/v1/transactions/${id}/abort`, { reason: 'stop' })).status).toBe(202);
    const second = await a.post(`/v1/transactions/${id}/branches`, { id: 'b2', participant: 'p1', payload: {} });
    expect(second.status).toBe(409);
    expect(second.body.detail).toMatch(/abort/);
    await first;
    await a.until(`/v1/transactions/${id}`, (t: any) => t.status === 'aborted', 15_000);
    expect(participant.callsFor(id).filter((c) => c.body.branchId === 'b2')).toEqual([]);
  });
});
