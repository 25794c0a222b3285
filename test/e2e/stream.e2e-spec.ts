import { Client } from 'pg';
import {
  CoordinatorProcess,
  SseClient,
  TEST_REDIS_URL,
  freshRedisPrefix,
  sagaBody,
  startTestStack,
  until,
  type TestStack,
} from '#testing';

/**
 * `GET /v1/stream`: every status change, live, and nothing lost across a reconnect: resumed from
 * this instance's buffer, from another instance (by time, from the log), and across a cut of the
 * connection the coordinator listens on.
 */
describe('live stream', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack('stream');
  });
  afterAll(async () => {
    await s.close();
  });

  const statusOf = (id: string, status: string) => (e: { event: string; data: any }) =>
    e.event === 'status' && e.data.id === id && e.data.status === status;
  const run = async (id: string) => {
    const r = await s.api.post(`/v1/transactions?wait=15000`, sagaBody(['a', 'b'], { id }));
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('committed');
  };

  it('tells every status change of a transaction, with a resumable id', async () => {
    const stream = await SseClient.open(`${s.coordinator.url}/v1/stream`);
    expect(stream.status).toBe(200);
    // written past Fastify's answer hooks, it carries the headers every answer does
    expect(stream.headers.get('x-frame-options')).toBe('DENY');
    expect(stream.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
    expect(stream.headers.get('x-content-type-options')).toBe('nosniff');
    await run('live-1');
    await stream.waitFor(statusOf('live-1', 'committed'));
    const seen = stream.events.filter((e) => e.data.id === 'live-1').map((e) => e.data.status);
    expect(seen[0]).toBe('running');
    expect(seen.at(-1)).toBe('committed');
    for (const e of stream.events) {
      expect(e.id).toMatch(/^\d+\.[0-9a-f]+\.\d+$/);
      expect(Object.keys(e.data).sort()).toEqual(['id', 'protocol', 'status', 'updatedAt']);
    }
    stream.close();
  });

  it('resumes with Last-Event-ID: what changed while disconnected arrives, from the same instance', async () => {
    const first = await SseClient.open(`${s.coordinator.url}/v1/stream`);
    await run('resume-1');
    await first.waitFor(statusOf('resume-1', 'committed'));
    const lastId = first.lastId!;
    first.close();

    await run('resume-2');
    await run('resume-3');

    const again = await SseClient.open(`${s.coordinator.url}/v1/stream`, { 'last-event-id': lastId });
    await again.waitFor(statusOf('resume-2', 'committed'));
    await again.waitFor(statusOf('resume-3', 'committed'));
    // from the buffer: every change, in order, not only the last
    expect(again.events.filter((e) => e.data.id === 'resume-2').map((e) => e.data.status)).toEqual([
      'running',
      'committed',
    ]);
    expect(again.events.some((e) => e.data.id === 'resume-1')).toBe(false);
    again.close();
  });

  it('gives a new connection an id at once: a client that heard no change yet resumes from when it connected', async () => {
    const first = await SseClient.open(`${s.coordinator.url}/v1/stream`);
    await until(() => first.lastId !== null, 5_000, 'the first id');
    const lastId = first.lastId!;
    first.close();
    await run('quiet-1');
    const again = await SseClient.open(`${s.coordinator.url}/v1/stream`, { 'last-event-id': lastId });
    await again.waitFor(statusOf('quiet-1', 'committed'));
    again.close();
  });

  it('resumes on another instance from the log by the id’s time, and hears that instance’s changes live', async () => {
    const first = await SseClient.open(`${s.coordinator.url}/v1/stream`);
    await run('other-1');
    await first.waitFor(statusOf('other-1', 'committed'));
    const lastId = first.lastId!;
    first.close();
    await run('other-2');

    const second = new CoordinatorProcess({
      databaseUrl: s.db.url,
      redisUrl: TEST_REDIS_URL,
      redisPrefix: freshRedisPrefix('stream-2'),
      env: { LOG_LEVEL: 'warn' },
    });
    try {
      const base = await second.start();
      const resumed = await SseClient.open(`${base}/v1/stream?lastEventId=${encodeURIComponent(lastId)}`);
      await resumed.waitFor(statusOf('other-2', 'committed'));
      // a change committed through the first instance reaches a client of the second
      await run('other-3');
      await resumed.waitFor(statusOf('other-3', 'committed'));
      resumed.close();
    } finally {
      await second.stop();
    }
  });

  it('a resume elsewhere hears a change whose commit came seconds after it was made (a row lock, a stall)', async () => {
    const client = await SseClient.open(`${s.coordinator.url}/v1/stream`);
    const slow = 'late-commit-L';
    // its action answers after 1 s; its write, stamped then, waits on a row lock for 2-3 s more
    s.participant.fault({
      transactionId: slow,
      branchId: 'a',
      phase: 'action',
      status: 200,
      times: 1,
      when: 'after',
      delayMs: 1_000,
    });
    expect((await s.api.post('/v1/transactions', sagaBody(['a'], { id: slow }))).status).toBe(201);
    const locker = new Client({ connectionString: s.db.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('SELECT id FROM txc_transactions WHERE id = $1 FOR UPDATE', [slow]);
      await until(async () => s.participant.callsFor(slow).some((c) => c.answeredAt !== null), 10_000, 'the answer');
      await new Promise((r) => setTimeout(r, 1_500));
      // a change made and committed well after the slow one was stamped: the client's last event
      await run('late-commit-M');
      await client.waitFor(statusOf('late-commit-M', 'committed'));
      const lastId = client.lastId!;
      client.close();
      await locker.query('COMMIT');
      await s.api.until(`/v1/transactions/${slow}`, (t: any) => t.status === 'committed', 10_000);
      // resumed by time, as on another instance (another boot in the id)
      const elsewhere = lastId.replace(/^(\d+)\.[0-9a-f]+\./, '$1.abcdef.');
      const resumed = await SseClient.open(`${s.coordinator.url}/v1/stream`, { 'last-event-id': elsewhere });
      await resumed.waitFor(statusOf(slow, 'committed'), 10_000);
      resumed.close();
    } finally {
      await locker.end().catch(() => undefined);
    }
  });

  it('loses nothing when the connection it listens on is cut', async () => {
    const stream = await SseClient.open(`${s.coordinator.url}/v1/stream`);
    const pg = new Client({ connectionString: s.db.url });
    await pg.connect();
    try {
      const cut = await pg.query(
        `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
          WHERE datname = current_database() AND query ILIKE 'LISTEN%'`,
      );
      expect(cut.rows.length).toBeGreaterThan(0);
      await run('gap-1');
      await stream.waitFor(statusOf('gap-1', 'committed'), 20_000);
    } finally {
      await pg.end();
      stream.close();
    }
  });

  it('catches up page by page: every change since a foreign id arrives, once', async () => {
    const since = Date.now() - 1_000;
    const pg = new Client({ connectionString: s.db.url });
    await pg.connect();
    try {
      // 2,500 settled transactions written straight into the log: more than one catch-up page
      await writeSettled(pg, 'bulk-', 2500);
    } finally {
      await pg.end();
    }
    const foreign = `${since}.abcdef.17`; // another instance's id: resumed by time, from the log
    const stream = await SseClient.open(`${s.coordinator.url}/v1/stream`, { 'last-event-id': foreign });
    await stream.waitFor(statusOf('bulk-2500', 'committed'));
    await run('after-catch-up');
    await stream.waitFor(statusOf('after-catch-up', 'committed'));
    const bulk = stream.events.filter((e) => String(e.data.id).startsWith('bulk-'));
    expect(new Set(bulk.map((e) => e.data.id)).size).toBe(2500);
    expect(bulk.length).toBe(2500);
    expect(stream.events.some((e) => e.event === 'reset')).toBe(false);
    stream.close();
  });

  it('sends only `event: reset` when more than 100,000 transactions changed since the id, none of the changes', async () => {
    const since = Date.now() - 1_000;
    const pg = new Client({ connectionString: s.db.url });
    await pg.connect();
    try {
      await writeSettled(pg, 'many-', 100_001);
      const stream = await SseClient.open(`${s.coordinator.url}/v1/stream`, { 'last-event-id': `${since}.abcdef.3` });
      await stream.waitFor((e) => e.event === 'reset', 30_000);
      expect(stream.events.filter((e) => e.event === 'status')).toEqual([]);
      stream.close();
    } finally {
      await pg.query(`DELETE FROM txc_transactions WHERE id LIKE 'many-%'`);
      await pg.end();
    }
  });
});

/** `count` committed transactions `<prefix>1`…, written straight into the log (changed now). */
async function writeSettled(pg: Client, prefix: string, count: number): Promise<void> {
  await pg.query(
    `INSERT INTO txc_transactions (id, protocol, mode, status, timeout_ms, deadline, retry, request_hash,
        participants, created_at, updated_at)
      SELECT $1 || n, 'saga', 'driven', 'committed', 1000, now(), '{}', 'h', ARRAY['p1'], now(), now()
        FROM generate_series(1, $2::int) AS n`,
    [prefix, count],
  );
}
