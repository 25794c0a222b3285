import { setTimeout as sleep } from 'node:timers/promises';
import {
  CoordinatorProcess,
  TEST_REDIS_URL,
  TcpProxy,
  apiClient,
  freshDatabase,
  freshRedisPrefix,
  type FreshDatabase,
} from '#testing';

/**
 * A keyed request whose work is done while the log goes away before its answer is stored for the
 * key. A short outage (a Postgres restart) is waited out, so the client gets the real answer; after
 * a longer one the client gets 503, and its repeat with the same key, sent to the same instance once
 * the log is back, is answered: it used to wait 30 s and get 409 `idempotency_key_in_flight` until
 * the claim was 2 minutes old, although no request anywhere was answering it.
 */
describe('a keyed request whose answer is written while the log is away', () => {
  let db: FreshDatabase;
  let proxy: TcpProxy;
  let coordinator: CoordinatorProcess;
  let api: ReturnType<typeof apiClient>;
  const ABOUT_THE_SETTLE_WINDOW_MS = 20_000;

  beforeAll(async () => {
    db = await freshDatabase('keyed_outage');
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) });
    coordinator = new CoordinatorProcess({
      databaseUrl: proxy.through(db.url),
      redisUrl: TEST_REDIS_URL,
      redisPrefix: freshRedisPrefix('keyed_outage'),
    });
    // the instance must not fence itself during the outages: what is tested is the key alone
    api = apiClient(await coordinator.start({ INSTANCE_TTL_MS: '120000', LOG_LEVEL: 'error' }));
  });
  afterAll(async () => {
    await coordinator?.stop();
    await proxy?.close();
    await db?.drop();
  });

  /** Sends `request` with the log cut off from the moment its answer is sent to be stored, for `outageMs`. */
  async function withAnswerWriteCut<T>(outageMs: number, request: () => Promise<T>): Promise<T> {
    proxy.holdWhenSent('"op":"respond"');
    const answer = request();
    while (proxy.holdArmed) await sleep(20);
    proxy.down();
    await sleep(outageMs);
    proxy.up();
    proxy.resume();
    return answer;
  }

  const interactive = async (id: string) =>
    expect(
      (await api.post('/v1/transactions', { id, protocol: 'tcc', mode: 'interactive', timeoutMs: 300_000 })).status,
    ).toBe(201);

  it('waits out a short outage and gives the real answer', async () => {
    await interactive('short-outage');
    const abort = await withAnswerWriteCut(3_000, () =>
      api.post('/v1/transactions/short-outage/abort', { reason: 'test' }, { 'idempotency-key': 'k-short' }),
    );
    expect(abort.status).toBe(202);
    const repeat = await api.post(
      '/v1/transactions/short-outage/abort',
      { reason: 'test' },
      { 'idempotency-key': 'k-short' },
    );
    expect([repeat.status, repeat.headers.get('idempotent-replayed')]).toEqual([202, 'true']);
  });

  it('answers a repeated action after a long outage, instead of calling it in flight', async () => {
    await interactive('long-outage');
    const abort = await withAnswerWriteCut(ABOUT_THE_SETTLE_WINDOW_MS, () =>
      api.post('/v1/transactions/long-outage/abort', { reason: 'test' }, { 'idempotency-key': 'k-long' }),
    );
    expect(abort.status).toBe(503);
    await api.until('/health/ready', (ready: { status?: string }) => ready?.status === 'ok', 15_000);
    const repeat = await api.post(
      '/v1/transactions/long-outage/abort',
      { reason: 'test' },
      { 'idempotency-key': 'k-long' },
    );
    // run again (an abort is safe to repeat): the transaction is aborted by then, which an abort answers 200
    expect([repeat.status, repeat.body.type]).toEqual([200, undefined]);
    expect((await api.get('/v1/transactions/long-outage')).body.status).toBe('aborted');
  });

  it('answers a repeated start after a long outage from the log', async () => {
    const body = { protocol: 'tcc', mode: 'interactive', timeoutMs: 300_000 };
    const start = await withAnswerWriteCut(ABOUT_THE_SETTLE_WINDOW_MS, () =>
      api.post('/v1/transactions', body, { 'idempotency-key': 'k-start' }),
    );
    expect(start.status).toBe(503);
    await api.until('/health/ready', (ready: { status?: string }) => ready?.status === 'ok', 15_000);
    const repeat = await api.post('/v1/transactions', body, { 'idempotency-key': 'k-start' });
    expect(repeat.status).toBe(201);
    const list = await api.get('/v1/transactions?protocol=tcc&limit=10');
    // one transaction for the key, not a second
    expect(list.body.items.filter((t: { id: string }) => t.id === repeat.body.id)).toHaveLength(1);
    expect(list.body.items.map((t: { id: string }) => t.id).filter((id: string) => !id.endsWith('-outage'))).toEqual([
      repeat.body.id,
    ]);
  });
});
