import { Pool } from 'pg';
import { sagaBody, startTestStack, until, type TestStack } from '#testing';

/** RETENTION_DAYS in a running coordinator: a short interval, and rows aged by hand in the log. */
describe('retention (coordinator process, RETENTION_DAYS=1)', () => {
  let s: TestStack;
  let pool: Pool;
  beforeAll(async () => {
    s = await startTestStack('retention', { env: { RETENTION_DAYS: '1', RETENTION_INTERVAL_MS: '200' } });
    pool = new Pool({ connectionString: s.db.url, max: 1 });
  });
  afterAll(async () => {
    await pool?.end();
    await s?.close();
  });

  async function age(id: string, days: number): Promise<void> {
    await pool.query(`UPDATE txc_transactions SET updated_at = now() - $2 * interval '1 day' WHERE id = $1`, [
      id,
      days,
    ]);
  }

  it('deletes a finished transaction past the horizon with its rows, keeps a newer one and an old failed one', async () => {
    const old = await s.api.post('/v1/transactions?wait=10000', sagaBody(['a', 'b']), {
      'idempotency-key': `k-${Date.now()}`,
    });
    const fresh = await s.api.post('/v1/transactions?wait=10000', sagaBody(['a']));
    // b's action fails and a's compensation fails too: parked as failed, waiting for an operator
    const failedId = `failed-${Date.now()}`;
    s.participant.fault({ transactionId: failedId, branchId: 'b', phase: 'action', status: 500, times: 100 });
    s.participant.fault({ transactionId: failedId, branchId: 'a', phase: 'compensate', status: 503, times: 100 });
    const failed = await s.api.post('/v1/transactions?wait=15000', {
      id: failedId,
      ...sagaBody(['a', 'b']),
      retry: { maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 100 },
    });
    expect([old.body.status, fresh.body.status]).toEqual(['committed', 'committed']);
    expect(failed.body.status).toBe('failed');
    await age(old.body.id, 2);
    await age(failedId, 2);
    await until(async () => (await s.api.get(`/v1/transactions/${old.body.id}`)).status === 404, 15_000);

    const rows = async (table: string, id: string) =>
      (await pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE transaction_id = $1`, [id])).rows[0].n;
    expect(await rows('txc_branches', old.body.id)).toBe(0);
    expect(await rows('txc_events', old.body.id)).toBe(0);
    expect(await rows('txc_idempotency_keys', old.body.id)).toBe(0);
    expect((await s.api.get(`/v1/transactions/${fresh.body.id}`)).status).toBe(200);
    expect(await rows('txc_events', fresh.body.id)).toBeGreaterThan(0);
    expect((await s.api.get(`/v1/transactions/${failedId}`)).status).toBe(200);
    const metrics = await (await fetch(`${s.coordinator.url}/metrics`)).text();
    expect(metrics).toMatch(/^txc_retention_deleted_rows_total\{table="transactions"\} [1-9]/m);
  });

  it('deletes the alerts delivered before the horizon, and keeps the rest', async () => {
    const alert = (key: string, ageDays: number, delivered: boolean) =>
      pool.query(
        `INSERT INTO txc_alerts (key, kind, payload, created_at, delivered_at)
         VALUES ($1, 'participant.expired', '{}', now() - $2 * interval '1 day', $3)`,
        [key, ageDays, delivered ? new Date() : null],
      );
    await alert('participant.expired:old:1', 2, true);
    await alert('participant.expired:recent:1', 0, true);
    await alert('participant.expired:unsent:1', 2, false);
    const keys = async () =>
      (await pool.query<{ key: string }>('SELECT key FROM txc_alerts ORDER BY key')).rows.map((r) => r.key);
    await until(async () => !(await keys()).includes('participant.expired:old:1'), 15_000);
    expect(await keys()).toEqual(['participant.expired:recent:1', 'participant.expired:unsent:1']);
  });
});
