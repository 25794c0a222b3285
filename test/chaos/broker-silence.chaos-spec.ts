import { Pool } from 'pg';
import { phasePaths } from '#participant';
import {
  BREAKERS_OFF,
  TEST_REDIS_URL,
  TcpProxy,
  bankLedger,
  freshDatabase,
  startBank,
  startTestStack,
  stopBank,
  type BankProcess,
  type FreshDatabase,
  type TestStack,
} from '#testing';

/**
 * The broker path goes silent: a NAT or a firewall drops the flows of the connections open now,
 * without a reset, while new connections pass (a TcpProxy in front of the machine's broker holds
 * their bytes for good). The SDK's bank and the coordinator both reach the broker through the proxy.
 * Neither side hears an error, so each must notice the silence itself and connect again. Before,
 * NATS took its default 2 min x 2 pings and Redis never did: every call timed out meanwhile.
 */
const BROKERS = [
  { kind: 'nats', url: process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222' },
  { kind: 'redis', url: TEST_REDIS_URL },
  { kind: 'rabbitmq', url: process.env.TEST_AMQP_URL ?? 'amqp://127.0.0.1:5672' },
] as const;

describe.each(BROKERS)('a $kind path that goes silent', ({ kind, url }) => {
  const name = `bank-silent-${kind}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let proxy: TcpProxy;
  let s: TestStack;
  let bankDb: FreshDatabase;
  let db: Pool;
  let bank: BankProcess | undefined;

  beforeAll(async () => {
    const target = new URL(url);
    const defaultPort = { nats: 4222, redis: 6379, rabbitmq: 5672 }[kind];
    proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || defaultPort) });
    const throughProxy = new URL(url);
    throughProxy.hostname = '127.0.0.1';
    throughProxy.port = String(proxy.port);
    s = await startTestStack(`silent_${kind}`, {
      env: { ...BREAKERS_OFF, CALL_TIMEOUT_MS: '1500', SWEEP_INTERVAL_MS: '200' },
    });
    bankDb = await freshDatabase(`silent_${kind}_bank`);
    // the bank registers the proxy's URL, so the coordinator dials the proxy too
    bank = await startBank({
      TRANSPORT: kind,
      BROKER_URL: throughProxy.toString().replace(/\/$/, ''),
      DATABASE_URL: bankDb.url,
      COORDINATOR_URL: s.api.base,
      PARTICIPANT_NAME: name,
    });
    db = new Pool({ connectionString: bankDb.url, max: 2 });
    db.on('error', () => undefined);
  });

  afterAll(async () => {
    await stopBank(bank);
    await db?.end();
    await s?.close();
    await bankDb?.drop();
    await proxy?.close();
  });

  const transfer = (from: string, to: string) => ({
    protocol: 'saga',
    timeoutMs: 120_000,
    retry: { maxAttempts: 100, initialBackoffMs: 200, maxBackoffMs: 1_000 },
    branches: [
      { id: 'debit', participant: name, payload: { account: from, amount: 10 }, paths: phasePaths('saga', 'debit') },
      { id: 'credit', participant: name, payload: { account: to, amount: 10 }, paths: phasePaths('saga', 'credit') },
    ],
  });

  /** The transfer `id` of 10 from `from` to `to` commits within a minute, each step applied once. */
  async function expectCommittedOnce(id: string, from: string, to: string): Promise<void> {
    const ledger = bankLedger(db);
    const done = await s.api.until(
      `/v1/transactions/${id}`,
      (t: { status: string }) => t.status === 'committed',
      60_000,
    );
    expect(done.status).toBe('committed');
    expect(await ledger.ops(id)).toEqual(['credit:action', 'debit:action']);
    expect([await ledger.balance(from), await ledger.balance(to)]).toEqual([90, 10]);
  }

  it('both sides notice, connect again on their own, and a transfer started in the silence commits once', async () => {
    const ledger = bankLedger(db);
    const warm = await s.api.post(
      '/v1/transactions?wait=15000',
      transfer(await ledger.open(100), await ledger.open(0)),
    );
    expect(warm.body.status).toBe('committed');

    expect(proxy.freezeOpen()).toBeGreaterThan(0);
    const [from, to] = [await ledger.open(100), await ledger.open(0)];
    const started = await s.api.post('/v1/transactions', transfer(from, to));
    expect(started.status).toBe(201);
    // within a minute: a few missed heartbeats, a reconnect, and a retry
    await expectCommittedOnce(started.body.id, from, to);
  }, 120_000);

  // the connections made again during the silence completed their handshake and heard nothing
  // more: Redis's waited for the answer to its ready check for good, and calls failed at once long
  // after the path came back
  it('a connection made again into the silence that never answers is made again once more', async () => {
    const ledger = bankLedger(db);
    expect(proxy.silenceAll()).toBeGreaterThan(0);
    const [from, to] = [await ledger.open(100), await ledger.open(0)];
    const started = await s.api.post('/v1/transactions', transfer(from, to));
    expect(started.status).toBe(201);
    // long enough for both sides to notice and connect again, into the silence
    await new Promise((r) => setTimeout(r, 20_000));
    proxy.heal();
    await expectCommittedOnce(started.body.id, from, to);
  }, 120_000);
});
