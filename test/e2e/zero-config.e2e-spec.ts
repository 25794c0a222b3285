import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Pool } from 'pg';
import { CoordinatorProcess, TestParticipant, apiClient, freePort, freshDatabase, type FreshDatabase } from '#testing';

/** Without REDIS_URL the queue runs on BullMQ's Postgres backend; without DATABASE_URL Postgres is embedded. */
describe('zero-config modes', () => {
  let participant: TestParticipant;
  beforeAll(async () => {
    participant = await TestParticipant.start();
  });
  afterAll(() => participant.close());

  async function retryingSaga(base: string) {
    const api = apiClient(base);
    expect((await api.post('/v1/participants', { name: 'p1', url: participant.url })).status).toBe(201);
    const id = `zc-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`;
    // two 503s: the retries are parked in the queue's store and come back through its worker
    participant.fault({ transactionId: id, branchId: 'b', phase: 'action', status: 503, times: 2 });
    const r = await api.post('/v1/transactions?wait=20000', {
      id,
      protocol: 'saga',
      branches: [
        { id: 'a', participant: 'p1' },
        { id: 'b', participant: 'p1' },
      ],
      retry: { maxAttempts: 5, initialBackoffMs: 200, maxBackoffMs: 400 },
    });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('committed');
    expect(r.body.attempts.filter((x: any) => x.branchId === 'b')).toHaveLength(3);
    const ready = await api.get('/health/ready');
    expect(ready.status).toBe(200);
    return ready.body;
  }

  it('runs BullMQ on its Postgres backend when REDIS_URL is unset', async () => {
    const db: FreshDatabase = await freshDatabase('pgqueue');
    // the sweeper is slowed down so the retries must come back through the Postgres-backed queue
    const coordinator = new CoordinatorProcess({
      databaseUrl: db.url,
      env: { SWEEP_INTERVAL_MS: '60000', INSTANCE_TTL_MS: '120000', LOG_LEVEL: 'warn' },
    });
    try {
      const base = await coordinator.start();
      expect(coordinator.log).toContain('queue on Postgres');
      const health = await retryingSaga(base);
      expect(health.details.queue.backend).toBe('postgres');
    } finally {
      await coordinator.stop();
      await db.drop();
    }
  });

  it('runs the Postgres queue under a REDIS_PREFIX with - and : (no plain schema name)', async () => {
    const db: FreshDatabase = await freshDatabase('pgqueue_prefix');
    const coordinator = new CoordinatorProcess({
      databaseUrl: db.url,
      redisPrefix: 'team-a:txc',
      env: { SWEEP_INTERVAL_MS: '60000', INSTANCE_TTL_MS: '120000', LOG_LEVEL: 'warn' },
    });
    try {
      const base = await coordinator.start();
      const health = await retryingSaga(base);
      expect(health.details.queue.backend).toBe('postgres');
      const pool = new Pool({ connectionString: db.url, max: 1 });
      try {
        const { rows } = await pool.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'txcq_team_a_txc_%'`);
        expect(rows).toHaveLength(1);
      } finally {
        await pool.end();
      }
    } finally {
      await coordinator.stop();
      await db.drop();
    }
  });

  it('starts an embedded Postgres under DATA_DIR when DATABASE_URL is unset', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'txc-embedded-'));
    const port = String(await freePort());
    const coordinator = new CoordinatorProcess({
      databaseUrl: '',
      env: { DATA_DIR: dataDir, EMBEDDED_PG_PORT: port, LOG_LEVEL: 'warn' },
    });
    try {
      const base = await coordinator.start();
      expect(coordinator.log).toContain(`embedded Postgres at 127.0.0.1:${port}`);
      await retryingSaga(base);
    } finally {
      await coordinator.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('starts again in the same place after a kill -9, stopping the Postgres the killed one left running', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'txc-embedded-killed-'));
    const port = String(await freePort());
    const options = { databaseUrl: '', env: { DATA_DIR: dataDir, EMBEDDED_PG_PORT: port, LOG_LEVEL: 'warn' } };
    const first = new CoordinatorProcess(options);
    const second = new CoordinatorProcess(options);
    try {
      await first.start();
      await first.kill(); // the coordinator only: its Postgres child lives on, orphaned, holding the data folder
      const base = await second.start();
      expect(second.log).toContain('left running by a coordinator that was killed');
      await retryingSaga(base);
    } finally {
      await second.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('exits at once with one line naming DATABASE_URL when its database does not exist', async () => {
    const coordinator = new CoordinatorProcess({
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/txc_no_such_database', // the test Postgres
      env: { LOG_LEVEL: 'warn' },
    });
    try {
      const refused = await coordinator.start().then(
        () => null,
        (error: Error) => error.message,
      );
      expect(refused).toMatch(
        /coordinator failed to start: DATABASE_URL: cannot connect to postgres:\/\/postgres@127\.0\.0\.1:5432\/txc_no_such_database: database "txc_no_such_database" does not exist/,
      );
      expect(refused).not.toMatch(/Retrying|\n\s+at /); // no TypeORM retries, no stack
    } finally {
      await coordinator.kill();
    }
  });

  it('exits with the reason when the embedded Postgres cannot start (its port is taken)', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'txc-embedded-taken-'));
    const port = await freePort();
    // held on both loopback addresses, so Postgres can bind neither
    const holders = [createServer(), createServer()];
    await Promise.all(
      holders.map(
        (h, i) =>
          new Promise<void>((done) => h.once('error', () => done()).listen(port, ['127.0.0.1', '::1'][i], done)),
      ),
    );
    const coordinator = new CoordinatorProcess({
      databaseUrl: '',
      env: { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(port), LOG_LEVEL: 'warn' },
    });
    try {
      await expect(coordinator.start()).rejects.toThrow(
        new RegExp(`embedded Postgres did not start on 127.0.0.1:${port}[^]*Address already in use`),
      );
    } finally {
      await coordinator.kill();
      for (const h of holders) h.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('exits naming DATA_DIR, without a stack trace, when its Postgres folder is half-made', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'txc-embedded-half-'));
    // a folder whose initialisation stopped part-way: files, but no PG_VERSION
    await mkdir(join(dataDir, 'pg'));
    await writeFile(join(dataDir, 'pg', 'postgresql.conf'), '');
    const coordinator = new CoordinatorProcess({
      databaseUrl: '',
      env: { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), LOG_LEVEL: 'warn' },
    });
    try {
      const failed = await coordinator.start().then(
        () => null,
        (error: Error) => error.message,
      );
      expect(failed).toMatch(/DATA_DIR: could not initialise an embedded Postgres in .*txc-embedded-half-/);
      expect(coordinator.log).not.toMatch(/^\s+at .*\.js:\d+/m);
    } finally {
      await coordinator.kill();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
