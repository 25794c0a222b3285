import { CoordinatorProcess, TcpProxy, freshDatabase, type FreshDatabase } from '#testing';

/**
 * A SIGTERM while Postgres accepts connections and never answers (a partition, not a refusal):
 * steps of the stop (letting go of owned work, the sweeper's last pass) waited on the log for good,
 * and the process never exited; an orchestrator would SIGKILL it after its grace period. Now the
 * stop has a deadline: past it the process exits 1, saying so, and its work is taken over as after
 * a crash.
 */
describe('SIGTERM while Postgres does not answer', () => {
  let db: FreshDatabase;
  let proxy: TcpProxy;
  let coordinator: CoordinatorProcess;

  beforeAll(async () => {
    db = await freshDatabase('stop_partitioned');
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) });
    coordinator = new CoordinatorProcess({ databaseUrl: proxy.through(db.url) });
  });
  afterAll(async () => {
    await coordinator?.kill();
    await proxy?.close();
    await db?.drop();
  });

  it('exits 1 at its stop deadline, naming why, instead of waiting for good', async () => {
    await coordinator.start({ LOG_LEVEL: 'log' });
    proxy.pause();

    await coordinator.stop();

    expect(await coordinator.exited).toBe(1);
    expect(coordinator.log).toContain('SIGTERM: not stopped within 15000 ms');
  }, 60_000);
});
