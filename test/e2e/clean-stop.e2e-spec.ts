import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinatorProcess, TestParticipant, apiClient, freePort } from '#testing';

/**
 * Ctrl-C on `npm start` with the embedded Postgres: the terminal sends SIGINT to the whole process
 * group, so the embedded Postgres ends its connections (57P01) while the coordinator is closing its
 * pools. That is part of stopping: the coordinator exits 0, reports no crash or unhandled error,
 * and leaves its Postgres stopped. Before the fix a connection's 57P01 error event was unhandled
 * and the process died with it.
 */
describe('Ctrl-C on a coordinator with an embedded Postgres', () => {
  let participant: TestParticipant;
  let dataDir: string;
  let coordinator: CoordinatorProcess;
  let port: string;

  beforeAll(async () => {
    port = String(await freePort());
    participant = await TestParticipant.start();
    dataDir = await mkdtemp(join(tmpdir(), 'txc-ctrl-c-'));
  });
  afterAll(async () => {
    await coordinator?.kill();
    await participant?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  // the crash depended on which came first, a connection's 57P01 or the end of the pools: three
  // rounds on the same data (which also shows the data is reusable after a Ctrl-C)
  it.each([1, 2, 3])(
    'round %i: stops cleanly, exit code 0, no unhandled error, Postgres stopped',
    async (round) => {
      coordinator = new CoordinatorProcess({
        databaseUrl: '',
        env: { DATA_DIR: dataDir, EMBEDDED_PG_PORT: port, LOG_LEVEL: 'log' },
        ownProcessGroup: true,
      });
      const api = apiClient(await coordinator.start());
      // some work first, so the pools, the queue and the stream's listener hold connections
      if (round === 1)
        expect((await api.post('/v1/participants', { name: 'p1', url: participant.url })).status).toBe(201);
      for (let i = 0; i < 5; i++) {
        const r = await api.post('/v1/transactions?wait=10000', {
          protocol: 'saga',
          branches: [{ id: 'a', participant: 'p1' }],
        });
        expect(r.body.status).toBe('committed');
      }
      const code = await coordinator.interrupt();
      // a failure shows the end of its output: what crashed
      expect({ code, tail: code === 0 ? '' : coordinator.log.slice(-3_000) }).toEqual({ code: 0, tail: '' });
      expect(coordinator.log).toContain('SIGINT: stopping');
      expect(coordinator.log).not.toMatch(/crashed|unhandled|uncaught/i);
      expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
    },
    120_000,
  );
});
