import { Client } from 'pg';
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
 * Two coordinators on one log; A reaches Postgres through a proxy that partitions A's connection in
 * the middle of a participant's registration, after its first write took the participant's row
 * lock. To Postgres, A's session is then idle in transaction, holding that lock, for as long as the
 * dead connection is not noticed (hours, with default TCP keepalives). B's heartbeats for that
 * participant wait on the lock; they must not take B's whole pool, and B must serve again soon.
 */
describe('a coordinator partitioned while it holds a lock', () => {
  let db: FreshDatabase;
  let proxy: TcpProxy;
  let participant: TestParticipant;
  let a: CoordinatorProcess;
  let b: CoordinatorProcess;
  const prefix = freshRedisPrefix('lockholder');
  const env = { LOG_LEVEL: 'log', SWEEP_INTERVAL_MS: '200', CALL_TIMEOUT_MS: '3000' };

  beforeAll(async () => {
    db = await freshDatabase('lockholder');
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

  it('lets the other instance go on: the dead session is ended, and its lock with it', async () => {
    const apiA = apiClient(await a.start(env));
    const apiB = apiClient(await b.start(env));
    expect((await apiB.post('/v1/participants', { name: 'p1', url: participant.url })).status).toBe(201);

    // A's registration of p1 takes p1's row lock, then its connection is partitioned before the next statement
    proxy.holdWhenSent('INSERT INTO txc_participant_instances');
    const stuck = apiA
      .post('/v1/participants', { name: 'p1', url: participant.url, instanceId: 'second' })
      .catch(() => null);
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const holding = async () =>
        (
          await pg.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND state = 'idle in transaction'
                AND query LIKE 'INSERT INTO txc_participants %'`,
          )
        ).rows[0].n as number;
      for (let i = 0; i < 100 && (await holding()) === 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await holding()).toBe(1);

      // a participant heartbeating through B: each waits on the lock
      const beats = Array.from({ length: 12 }, () => apiB.post('/v1/participants/p1/heartbeat', {}));
      const results = await Promise.all(beats);
      expect(results.map((r) => r.status)).toEqual(Array(12).fill(200));
      // B serves: a transaction on p1 commits
      const t = await apiB.post('/v1/transactions?wait=10000', {
        protocol: 'saga',
        branches: [{ id: 'a', participant: 'p1' }],
      });
      expect(t.body.status).toBe('committed');
      expect(await holding()).toBe(0);
    } finally {
      await pg.end();
      proxy.resume();
      await stuck;
    }
  });
});
