// the build config (tsconfig.build.json) compiles *.int-spec.ts with types ["node"] only
import { randomUUID } from 'node:crypto';
import { Pool, type PoolClient } from 'pg';
import { freshDatabase, type FreshDatabase } from '#testing';
import { Outbox, OutboxError } from './outbox';

/**
 * The outbox against a real Postgres: the check's answer is the truth about the sender's local
 * transaction, whatever the interleaving (DTM's two-phase message race, settled by the marker).
 */
describe('Outbox (real Postgres)', () => {
  let db: FreshDatabase;
  let pool: Pool;
  /** The coordinator calls the outbox made: prepare and submit, answered 201/202 unless `refuse` is set. */
  const posted: { path: string; body: any }[] = [];
  let refuse = false;
  const fakeFetch = (async (url: string, init: { body: string }) => {
    posted.push({ path: new URL(url).pathname, body: JSON.parse(init.body) });
    // a prepare is answered with the message, as the coordinator does
    return new Response(JSON.stringify({ status: 'prepared' }), { status: refuse ? 503 : 201 });
  }) as unknown as typeof fetch;
  let outbox: Outbox;

  beforeAll(async () => {
    db = await freshDatabase('outbox');
    pool = new Pool({ connectionString: db.url, max: 8 });
    pool.on('error', () => undefined);
    outbox = new Outbox({
      coordinatorUrl: 'http://coordinator.test',
      participant: 'orders',
      db: pool,
      fetch: fakeFetch,
    });
    await outbox.install();
    await outbox.install(); // idempotent
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });
  afterEach(() => {
    refuse = false;
  });

  async function begin(): Promise<PoolClient> {
    const client = await pool.connect();
    await client.query('BEGIN');
    return client;
  }
  const message = (id: string) => ({ id, deliveries: [{ id: 'stock', participant: 'inventory', payload: { id } }] });

  it('prepares the message at the coordinator with its check, and submits it when asked', async () => {
    const id = randomUUID();
    const sender = await begin();
    const prepared = await outbox.send(sender, { ...message(id), checkAfterMs: 2000 });
    await sender.query('COMMIT');
    sender.release();
    await prepared.submit();
    const mine = posted.filter((p) => p.path.includes(id) || p.body.id === id);
    expect(mine.map((p) => p.path)).toEqual(['/v1/transactions', `/v1/transactions/${id}/submit`]);
    expect(mine[0].body).toMatchObject({
      id,
      protocol: 'msg',
      mode: 'prepared',
      checkAfterMs: 2000,
      check: { participant: 'orders', path: '/msg/check' },
      branches: [{ id: 'stock', participant: 'inventory' }],
    });
    expect(await outbox.check(id)).toEqual({ state: 'committed' });
  });

  it('a check while the sender is open waits for it: committed if it commits', async () => {
    const id = randomUUID();
    const sender = await begin();
    await outbox.send(sender, message(id));
    let answered = false;
    const check = outbox.check(id).then((a) => ((answered = true), a));
    await new Promise((r) => setTimeout(r, 300));
    expect(answered).toBe(false); // blocked on the sender's uncommitted marker
    await sender.query('COMMIT');
    sender.release();
    expect(await check).toEqual({ state: 'committed' });
  });

  it('a check while the sender is open waits for it: rolledback if it rolls back', async () => {
    const id = randomUUID();
    const sender = await begin();
    await outbox.send(sender, message(id));
    const check = outbox.check(id);
    await new Promise((r) => setTimeout(r, 300));
    await sender.query('ROLLBACK');
    sender.release();
    expect(await check).toEqual({ state: 'rolledback' });
    expect(await outbox.check(id)).toEqual({ state: 'rolledback' }); // and stays so
  });

  it('a check while the sender is open waits only until its caller gives up: pending, its connection back in the pool', async () => {
    const id = randomUUID();
    const sender = await begin();
    await outbox.send(sender, message(id));
    // the coordinator stops waiting for this check in 500 ms (the call's deadline)
    const deadline = new Date(Date.now() + 500).toISOString();
    expect(await outbox.check(id, { deadline })).toEqual({ state: 'pending' });
    // nothing of the check is left waiting on the sender's marker
    const waiting = await pool.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'WITH bound%'`,
    );
    expect(waiting.rows[0].n).toBe(0);
    await sender.query('COMMIT');
    sender.release();
    expect(await outbox.check(id, { deadline: new Date(Date.now() + 500).toISOString() })).toEqual({
      state: 'committed',
    });
  });

  it('a send reusing the id of a message this service already sent throws OutboxError 409, not lost to a check', async () => {
    const id = randomUUID();
    const first = await begin();
    await outbox.send(first, message(id));
    await first.query('COMMIT');
    first.release();
    const again = await begin();
    const reused = await outbox.send(again, message(id)).catch((e: unknown) => e);
    await again.query('ROLLBACK');
    again.release();
    expect(reused).toBeInstanceOf(OutboxError);
    expect(reused).toMatchObject({ status: 409, message: expect.stringMatching(/already sent/) });
    expect(Outbox.isLostToCheck(reused)).toBe(false);
    expect(await outbox.check(id)).toEqual({ state: 'committed' });
  });

  it('a check before the sender wrote its marker answers rolledback, and the late sender fails on it', async () => {
    const id = randomUUID();
    expect(await outbox.check(id)).toEqual({ state: 'rolledback' });
    const sender = await begin();
    const late = await outbox.send(sender, message(id)).catch((e: unknown) => e);
    expect(Outbox.isLostToCheck(late)).toBe(true);
    await sender.query('ROLLBACK');
    sender.release();
    expect(await outbox.check(id)).toEqual({ state: 'rolledback' });
  });

  it('a sender committing past its message’s deadline fails, and a check blocked on it then answers rolledback', async () => {
    const id = randomUUID();
    const sender = await begin();
    // the coordinator gives up on a message still prepared at its deadline: a commit after it must not land
    await outbox.send(sender, { ...message(id), timeoutMs: 1000 });
    const check = outbox.check(id);
    await new Promise((r) => setTimeout(r, 1500));
    const late = await sender.query('COMMIT').catch((e: unknown) => e);
    sender.release();
    expect(Outbox.isLostToCheck(late)).toBe(true);
    expect(await check).toEqual({ state: 'rolledback' });
    // committed in time, the same message would have held
    const onTime = randomUUID();
    const quick = await begin();
    await outbox.send(quick, { ...message(onTime), timeoutMs: 1000 });
    await quick.query('COMMIT');
    quick.release();
    expect(await outbox.check(onTime)).toEqual({ state: 'committed' });
  });

  it('a prepare the coordinator refuses fails the send, so the caller rolls back', async () => {
    const id = randomUUID();
    refuse = true;
    const sender = await begin();
    await expect(outbox.send(sender, message(id))).rejects.toBeInstanceOf(OutboxError);
    await sender.query('ROLLBACK');
    sender.release();
    expect(await outbox.check(id)).toEqual({ state: 'rolledback' });
  });

  it('many checks racing many senders: every answer agrees with what the sender committed', async () => {
    // the checks on a pool of their own: a check waits for a sender's transaction, which holds a connection
    const checks = new Pool({ connectionString: db.url, max: 8 });
    checks.on('error', () => undefined);
    const checker = new Outbox({
      coordinatorUrl: 'http://coordinator.test',
      participant: 'orders',
      db: checks,
      fetch: fakeFetch,
    });
    try {
      const runs = Array.from({ length: 30 }, (_, i) => ({ id: randomUUID(), commit: i % 3 !== 0 }));
      for (let i = 0; i < runs.length; i += 6) {
        const results = await Promise.all(
          runs.slice(i, i + 6).map(async (run) => {
            const sender = await begin();
            try {
              await outbox.send(sender, message(run.id));
              const check = checker.check(run.id);
              await sender.query(run.commit ? 'COMMIT' : 'ROLLBACK');
              return { committed: run.commit, answer: (await check).state };
            } finally {
              sender.release();
            }
          }),
        );
        for (const r of results) expect(r.answer).toBe(r.committed ? 'committed' : 'rolledback');
      }
    } finally {
      await checks.end();
    }
  });
});
