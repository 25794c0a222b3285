import { Client } from 'pg';
import {
  CoordinatorProcess,
  TEST_REDIS_URL,
  TestParticipant,
  apiClient,
  freshDatabase,
  freshRedisPrefix,
  type FreshDatabase,
} from '#testing';

/**
 * The coordinator killed with SIGKILL at named points (CRASH_AT) and started again on the same
 * database: every transaction reaches the final state its log dictates, and no participant applies
 * an effect twice.
 */
describe('crash safety: SIGKILL at named points', () => {
  let db: FreshDatabase;
  let participant: TestParticipant;
  const prefix = freshRedisPrefix('crash');
  beforeAll(async () => {
    db = await freshDatabase('crash');
    participant = await TestParticipant.start();
  });
  afterAll(async () => {
    await participant.close();
    await db.drop();
  });

  async function crashThenRecover(crashAt: string, body: (id: string) => unknown, expected: string) {
    const coordinator = new CoordinatorProcess({ databaseUrl: db.url, redisUrl: TEST_REDIS_URL, redisPrefix: prefix });
    const api = apiClient(await coordinator.start({ CRASH_AT: crashAt, LOG_LEVEL: 'warn' }));
    await api.post('/v1/participants', { name: 'p1', url: participant.url });
    const id = `${crashAt.replace(':', '-')}-${Date.now()}`;
    // the request may be answered or cut by the crash; either way the log decides what happens next
    await api.post('/v1/transactions', { id, ...(body(id) as object) }).catch(() => null);
    expect(await coordinator.exited).toBeNull(); // killed by a signal, not exited
    expect(coordinator.log).toContain(`CRASH_AT ${crashAt.split(':')[0]}`);

    const restarted = new CoordinatorProcess({ databaseUrl: db.url, redisUrl: TEST_REDIS_URL, redisPrefix: prefix });
    const again = apiClient(await restarted.start({ LOG_LEVEL: 'warn' }));
    try {
      const done = await again.until(
        `/v1/transactions/${id}`,
        (t: any) => ['committed', 'aborted', 'failed'].includes(t.status),
        20_000,
      );
      expect(done.status).toBe(expected);
      expect(done.events.map((e: any) => e.type)).toContain('transaction.recovered');
      return { id, done };
    } finally {
      await restarted.stop();
    }
  }

  const saga = (branches: string[]) => ({
    protocol: 'saga',
    branches: branches.map((b) => ({ id: b, participant: 'p1' })),
  });

  it('after the transaction row is written, before any call: recovered and committed', async () => {
    const { id } = await crashThenRecover('after-create', () => saga(['a', 'b']), 'committed');
    expect(participant.effects(id, 'a')).toEqual({ applied: 1, compensated: 0 });
    expect(participant.effects(id, 'b')).toEqual({ applied: 1, compensated: 0 });
  });

  it('after a branch call returns but before its outcome is recorded: re-sent, applied once', async () => {
    const { id, done } = await crashThenRecover('after-call:2', () => saga(['a', 'b', 'c']), 'committed');
    // b's first answer died with the process: b was delivered again and its effect still counts once
    expect(participant.callsFor(id, 'action').filter((c) => c.body.branchId === 'b').length).toBe(2);
    for (const b of ['a', 'b', 'c']) expect(participant.effects(id, b)).toEqual({ applied: 1, compensated: 0 });
    expect(done.attempts.filter((a: any) => a.branchId === 'b').map((a: any) => a.attempt)).toEqual([1, 2]);
  });

  it('during compensation: recovered and aborted with every done action compensated once', async () => {
    const { id } = await crashThenRecover(
      'during-compensation',
      (txnId) => {
        participant.fault({ transactionId: txnId, branchId: 'c', phase: 'action', status: 409, times: 1 });
        return saga(['a', 'b', 'c']);
      },
      'aborted',
    );
    expect(participant.effects(id, 'a')).toEqual({ applied: 1, compensated: 1 });
    expect(participant.effects(id, 'b')).toEqual({ applied: 1, compensated: 1 });
    expect(participant.effects(id, 'c')).toEqual({ applied: 0, compensated: 0 });
  });

  it('after the decision to abort: the abort is carried through, never reversed', async () => {
    const { id } = await crashThenRecover(
      'after-decision',
      (txnId) => {
        participant.fault({ transactionId: txnId, branchId: 'b', phase: 'action', status: 409, times: 1 });
        return saga(['a', 'b']);
      },
      'aborted',
    );
    expect(participant.effects(id, 'a')).toEqual({ applied: 1, compensated: 1 });
  });

  it('a crash under load: every transaction settles correctly and nothing applies twice', async () => {
    const coordinator = new CoordinatorProcess({ databaseUrl: db.url, redisUrl: TEST_REDIS_URL, redisPrefix: prefix });
    const api = apiClient(await coordinator.start({ CRASH_AT: 'after-call:40', LOG_LEVEL: 'warn' }));
    await api.post('/v1/participants', { name: 'p1', url: participant.url });
    const ids = Array.from({ length: 30 }, (_, i) => `load-${Date.now()}-${i}`);
    // a business "no" is deterministic: every delivery of c's action in these transactions is refused
    ids
      .filter((_, i) => i % 3 === 0)
      .forEach((id) =>
        participant.fault({ transactionId: id, branchId: 'c', phase: 'action', status: 409, times: 100 }),
      );
    const accepted: string[] = [];
    await Promise.all(
      ids.map(async (id) => {
        const r = await api.post('/v1/transactions', { id, ...saga(['a', 'b', 'c']) }).catch(() => null);
        if (r && r.status === 201) accepted.push(id);
      }),
    );
    await coordinator.exited;
    const restarted = new CoordinatorProcess({ databaseUrl: db.url, redisUrl: TEST_REDIS_URL, redisPrefix: prefix });
    const again = apiClient(await restarted.start({ LOG_LEVEL: 'warn' }));
    try {
      expect(accepted.length).toBeGreaterThan(0);
      for (const id of accepted) {
        const t = await again.until(
          `/v1/transactions/${id}`,
          (x: any) => ['committed', 'aborted'].includes(x.status),
          20_000,
        );
        const rejecting = ids.indexOf(id) % 3 === 0;
        expect(t.status).toBe(rejecting ? 'aborted' : 'committed');
        for (const b of ['a', 'b']) {
          expect(participant.effects(id, b)).toEqual({ applied: 1, compensated: rejecting ? 1 : 0 });
        }
      }
      // nothing is left owned by the dead instance or unfinished
      const pg = new Client({ connectionString: db.url });
      await pg.connect();
      const open = await pg.query(
        `SELECT count(*)::int AS n FROM txc_transactions WHERE status NOT IN ('committed', 'aborted')`,
      );
      await pg.end();
      expect(open.rows[0].n).toBe(0);
    } finally {
      await restarted.stop();
    }
  });
});
