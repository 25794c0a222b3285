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
 * The stuck detector: a transaction that is not final, has no call in flight younger than its
 * timeout, no wake-up due and no live driver is re-driven from the log. Three such end states are
 * made by hand in the log (what a lost commit acknowledgement, a step whose `decide` threw, or a
 * live owner that stopped driving leave behind), each with a delivery the log shows in flight:
 * - unowned, with no wake-up at all;
 * - owned by a live instance (its heartbeat fresh) that has written nothing for an hour;
 * - owned by the running coordinator itself, which has no driver for it.
 * Before the detector, the sweeper took only due rows and rows of dead owners: all three stayed
 * `running` for good.
 */
describe('stuck detector', () => {
  let db: FreshDatabase;
  let participant: TestParticipant;
  let sql: Client;
  let first: CoordinatorProcess;
  let second: CoordinatorProcess;
  let ghostBeat: NodeJS.Timeout | undefined;
  const prefix = freshRedisPrefix('stuck');

  beforeAll(async () => {
    db = await freshDatabase('stuck');
    participant = await TestParticipant.start();
    sql = new Client({ connectionString: db.url });
    await sql.connect();
    first = new CoordinatorProcess({ databaseUrl: db.url, redisUrl: TEST_REDIS_URL, redisPrefix: prefix });
    second = new CoordinatorProcess({ databaseUrl: db.url, redisUrl: TEST_REDIS_URL, redisPrefix: prefix });
  });
  afterAll(async () => {
    if (ghostBeat) clearInterval(ghostBeat);
    await first?.kill();
    await second?.stop();
    await sql?.end();
    await participant?.close();
    await db?.drop();
  });

  it('re-drives unowned rows without a wake-up, stalled rows of a live owner, and its own rows without a driver', async () => {
    // the first coordinator announces each first action and dies while it is in flight
    const firstApi = apiClient(await first.start({ CALL_TIMEOUT_MS: '60000' }));
    expect((await firstApi.post('/v1/participants', { name: 'p1', url: participant.url })).status).toBe(201);
    const stamp = Date.now();
    const ids = { unscheduled: `stuck-none-${stamp}`, stalled: `stuck-live-${stamp}`, own: `stuck-own-${stamp}` };
    for (const id of Object.values(ids)) {
      participant.fault({ transactionId: id, branchId: 's1', phase: 'action', status: 503, times: 1, delayMs: 30_000 });
      const r = await firstApi.post('/v1/transactions', {
        id,
        protocol: 'saga',
        branches: ['s1', 's2'].map((s) => ({ id: s, participant: 'p1', payload: { s } })),
      });
      expect(r.status).toBe(201);
    }
    const deadline = Date.now() + 10_000;
    while (Object.values(ids).some((id) => participant.callsFor(id).length === 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await first.kill();
    const inFlight = await sql.query(
      `SELECT count(*)::int AS n FROM txc_branches WHERE transaction_id = ANY($1) AND in_flight`,
      [Object.values(ids)],
    );
    expect(inFlight.rows[0].n).toBe(3);

    // a live instance that owns rows it no longer drives: its heartbeat is kept fresh throughout
    await sql.query(`INSERT INTO txc_instances (id, host, pid) VALUES ('ghost-live', 'elsewhere', 1)`);
    ghostBeat = setInterval(
      () => void sql.query(`UPDATE txc_instances SET heartbeat_at = now() WHERE id = 'ghost-live'`).catch(() => {}),
      250,
    );
    await sql.query(`UPDATE txc_transactions SET owner = NULL, wake_at = NULL WHERE id = $1`, [ids.unscheduled]);
    await sql.query(
      `UPDATE txc_transactions SET owner = 'ghost-live', wake_at = NULL, updated_at = now() - interval '1 hour'
        WHERE id = $1`,
      [ids.stalled],
    );
    // held by the live instance, recently touched, until the second coordinator is up
    await sql.query(
      `UPDATE txc_transactions SET owner = 'ghost-live', wake_at = NULL, updated_at = now() WHERE id = $1`,
      [ids.own],
    );

    // a long call timeout: the own row is not old enough to count as stalled while the test waits
    const secondApi = apiClient(await second.start({ CALL_TIMEOUT_MS: '120000' }));
    // its instance row appears with its first heartbeat
    let self: string | undefined;
    for (const until = Date.now() + 10_000; !self && Date.now() < until;) {
      const found = await sql.query(`SELECT id FROM txc_instances WHERE pid = $1 AND id <> 'ghost-live'`, [second.pid]);
      self = found.rows[0]?.id;
      if (!self) await new Promise((r) => setTimeout(r, 100));
    }
    expect(self).toBeDefined();
    await sql.query(`UPDATE txc_transactions SET owner = $2, updated_at = now() WHERE id = $1`, [ids.own, self]);

    for (const id of Object.values(ids)) {
      const done = await secondApi.until(`/v1/transactions/${id}`, (t: any) => t.status === 'committed', 30_000);
      expect(done.branches.map((b: any) => b.status)).toEqual(['succeeded', 'succeeded']);
      for (const s of ['s1', 's2']) expect(participant.outcome(id, s)).toEqual({ applied: 1, committed: 0, undone: 0 });
    }
  }, 90_000);
});
