import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readdirSync, rm } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoordinatorProcess, TEST_REDIS_URL, TestParticipant, apiClient, freshRedisPrefix } from '#testing';

const BIN = `/usr/lib/postgresql/${readdirSync('/usr/lib/postgresql').sort().pop()}/bin`;
const asPostgres = (cmd: string, args: string[]) =>
  process.getuid?.() === 0
    ? execFileSync('runuser', ['-u', 'postgres', '--', `${BIN}/${cmd}`, ...args], { stdio: 'ignore', timeout: 60_000 })
    : execFileSync(`${BIN}/${cmd}`, args, { stdio: 'ignore', timeout: 60_000 });

/** A Postgres server of the test's own, from the machine's binaries. */
class PrivatePostgres {
  constructor(
    private readonly dataDir: string,
    readonly port: number,
  ) {}
  init(): void {
    asPostgres('initdb', ['-D', this.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  }
  start(): void {
    // the server's output goes to a file: a daemon holding our pipes open would hang execFileSync
    asPostgres('pg_ctl', [
      '-D',
      this.dataDir,
      '-l',
      `${this.dataDir}/server.log`,
      '-o',
      `-p ${this.port} -k ${this.dataDir} -c listen_addresses=127.0.0.1`,
      '-w',
      'start',
    ]);
  }
  stop(): void {
    asPostgres('pg_ctl', ['-D', this.dataDir, '-m', 'fast', '-w', 'stop']);
  }
}

/**
 * Postgres restarted under a running coordinator: state changes that cannot be written are retried
 * until the database is back; nothing acknowledged is lost and nothing is applied twice. The test
 * runs a Postgres server of its own so that stopping it disturbs no other test file.
 */
describe('Postgres restarted in the middle of a run', () => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  let dir: string;
  let pg: PrivatePostgres;
  let participant: TestParticipant;
  let coordinator: CoordinatorProcess;

  beforeAll(async () => {
    dir = await promisify(mkdtemp)(join(tmpdir(), 'txc-pgrestart-'));
    if (process.getuid?.() === 0) execFileSync('chown', ['postgres', dir]); // initdb runs as postgres
    await promisify(chmod)(dir, 0o700);
    pg = new PrivatePostgres(join(dir, 'data'), port);
    pg.init();
    pg.start();
    asPostgres('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'txc']);
    participant = await TestParticipant.start();
    coordinator = new CoordinatorProcess({
      databaseUrl: `postgres://postgres@127.0.0.1:${port}/txc`,
      redisUrl: TEST_REDIS_URL,
      redisPrefix: freshRedisPrefix('pgrestart'),
    });
  }, 60_000);
  afterAll(async () => {
    await coordinator.stop();
    await participant.close();
    try {
      pg.stop();
    } catch {
      // already stopped
    }
    await promisify(rm)(dir, { recursive: true, force: true });
  });

  it('every acknowledged saga still commits, each effect once', async () => {
    const api = apiClient(await coordinator.start({ LOG_LEVEL: 'error' }));
    await api.post('/v1/participants', { name: 'p1', url: participant.url });
    const ids = Array.from({ length: 10 }, (_, i) => `pgr-${Date.now()}-${i}`);
    // slow answers: the database goes away while calls are in flight, so their outcomes must wait
    for (const id of ids) {
      participant.fault({
        transactionId: id,
        branchId: 'a',
        phase: 'action',
        status: 200,
        times: 1,
        when: 'after',
        delayMs: 700,
      });
    }
    for (const id of ids) {
      const r = await api.post('/v1/transactions', {
        id,
        protocol: 'saga',
        branches: ['a', 'b'].map((b) => ({ id: b, participant: 'p1' })),
      });
      expect(r.status).toBe(201);
    }
    pg.stop();
    await new Promise((r) => setTimeout(r, 1500));
    const down = await api.get('/health/ready').catch((e) => {
      throw new Error(`coordinator died with Postgres: ${e}\n${coordinator.log.slice(-3000)}`);
    });
    expect(down.status).toBe(503);
    pg.start();

    for (const id of ids) {
      const t = await api.until(`/v1/transactions/${id}`, (x: any) => x.status === 'committed', 30_000);
      expect(t.branches.map((b: any) => b.status)).toEqual(['succeeded', 'succeeded']);
      for (const b of ['a', 'b']) expect(participant.effects(id, b)).toEqual({ applied: 1, compensated: 0 });
    }
    expect((await api.get('/health/ready')).status).toBe(200);
  });
});
