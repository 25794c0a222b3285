import { Client } from 'pg';
import { startTestStack, type TestStack } from '#testing';

const TTL_MS = 2_000;

/**
 * The heartbeat does not wait for the sweep. A sweep pass is made slow on purpose: the row of an
 * orphan it must take over is locked by another session, so the pass waits on its claim for
 * several TTLs. The instance's heartbeat row stays fresh all along, so no other instance would call
 * it dead and take its work; once the lock goes, the orphan is taken over and finishes. Before the
 * heartbeat had its own timer, it was sent by the sweep pass and stopped with it.
 */
describe('a slow sweep pass', () => {
  let s: TestStack;
  let sql: Client;
  let locker: Client;
  beforeAll(async () => {
    s = await startTestStack('slowsweep', { env: { SWEEP_INTERVAL_MS: '200', INSTANCE_TTL_MS: String(TTL_MS) } });
    sql = new Client({ connectionString: s.db.url });
    locker = new Client({ connectionString: s.db.url });
    await Promise.all([sql.connect(), locker.connect()]);
  });
  afterAll(async () => {
    await locker?.end();
    await sql?.end();
    await s?.close();
  });

  it('does not delay the heartbeat', async () => {
    const id = `slow-sweep-${Date.now()}`;
    // a saga parked waiting out a backoff: unowned, with a wake-up in the future
    s.participant.fault({ transactionId: id, branchId: 'a', phase: 'action', status: 503, times: 1_000 });
    const r = await s.api.post('/v1/transactions', {
      id,
      protocol: 'saga',
      retry: { maxAttempts: 100, initialBackoffMs: 3_600_000, maxBackoffMs: 3_600_000 },
      branches: [{ id: 'a', participant: 'p1' }],
    });
    expect(r.status).toBe(201);
    // made due in a second, then locked: the sweep finds it and its claim waits on the lock
    const parked = async () => {
      await sql.query('BEGIN');
      const made = await sql.query(
        `UPDATE txc_transactions SET wake_at = now() + interval '1 second'
          WHERE id = $1 AND owner IS NULL AND wake_at > now() + interval '5 seconds'`,
        [id],
      );
      await sql.query(`UPDATE txc_branches SET retry_at = now() + interval '1 second' WHERE transaction_id = $1`, [id]);
      await sql.query(made.rowCount === 1 ? 'COMMIT' : 'ROLLBACK');
      return made.rowCount === 1;
    };
    const until = Date.now() + 15_000;
    while (!(await parked())) {
      if (Date.now() > until) throw new Error('the saga never parked');
      await new Promise((r) => setTimeout(r, 100));
    }
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM txc_transactions WHERE id = $1 FOR UPDATE', [id]);

    const heartbeatAge = async () =>
      Number(
        (
          await sql.query(
            `SELECT extract(epoch FROM now() - heartbeat_at) * 1000 AS age FROM txc_instances WHERE pid = $1`,
            [s.coordinator.pid],
          )
        ).rows[0].age,
      );
    const claimWaits = async () =>
      Number(
        (
          await sql.query(
            `SELECT count(*) AS n FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE txc_transactions SET owner%'`,
          )
        ).rows[0].n,
      ) > 0;
    let oldest = 0;
    let sawClaimWaiting = false;
    const watchUntil = Date.now() + 3 * TTL_MS;
    while (Date.now() < watchUntil) {
      oldest = Math.max(oldest, await heartbeatAge());
      sawClaimWaiting ||= await claimWaits();
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(sawClaimWaiting).toBe(true); // the pass was held up for the whole watch
    expect(oldest).toBeLessThan(TTL_MS);
    expect(s.coordinator.log).not.toMatch(/heartbeat overdue/);

    // the lock goes: the waiting claim takes the orphan over and the healed participant commits it
    s.participant.clearFaults();
    await locker.query('ROLLBACK');
    const done = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'committed', 20_000);
    expect(done.status).toBe('committed');
  }, 60_000);
});
