import { Pool } from 'pg';
import { phasePaths } from '#participant';
import {
  freshDatabase,
  startBank,
  startTestStack,
  stopBank,
  type BankProcess,
  type FreshDatabase,
  type TestStack,
} from '#testing';

// the bank of libs/participant/test-app (startBank), served over a broker
const SECRET = 'transport-e2e-secret-0123456789';

/** The brokers of this machine (.ci/run starts them); the test's own names keep parallel files apart. */
const BROKERS = [
  { kind: 'nats', url: process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222' },
  { kind: 'redis', url: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' },
  { kind: 'rabbitmq', url: process.env.TEST_AMQP_URL ?? 'amqp://127.0.0.1:5672' },
  // RabbitMQ's other name (Nest's own): registered, shown and called as given
  { kind: 'rmq', url: process.env.TEST_AMQP_URL ?? 'amqp://127.0.0.1:5672' },
] as const;

describe.each(BROKERS)('participant over $kind', ({ kind, url }) => {
  // unique per run: the pattern txn.<name>.<phase> is what keeps parallel runs on one broker apart
  const name = `bank-${kind}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let s: TestStack;
  let bankDb: FreshDatabase;
  let db: Pool;
  let bank: BankProcess | undefined;
  let bankEnv: Record<string, string>;

  beforeAll(async () => {
    s = await startTestStack(`transport_${kind}`, { env: { CALL_TIMEOUT_MS: '1500', SWEEP_INTERVAL_MS: '200' } });
    bankDb = await freshDatabase(`transport_${kind}_bank`);
    bankEnv = {
      TRANSPORT: kind,
      BROKER_URL: url,
      DATABASE_URL: bankDb.url,
      COORDINATOR_URL: s.api.base,
      PARTICIPANT_NAME: name,
      PARTICIPANT_SECRET: SECRET,
      TTL_SECONDS: '30',
    };
    bank = await startBank(bankEnv);
    db = new Pool({ connectionString: bankDb.url, max: 2 });
    // the DROP ... WITH (FORCE) at teardown may end an idle connection: expected
    db.on('error', () => undefined);
  });

  afterAll(async () => {
    await stopBank(bank);
    await db?.end();
    await s?.close();
    await bankDb?.drop();
  });

  async function open(balance: number): Promise<string> {
    const id = `acc-${Math.random().toString(36).slice(2)}`;
    await db.query('INSERT INTO accounts (id, balance) VALUES ($1, $2)', [id, balance]);
    return id;
  }

  async function balance(id: string): Promise<number> {
    const { rows } = await db.query<{ balance: number }>('SELECT balance FROM accounts WHERE id = $1', [id]);
    return rows[0].balance;
  }

  async function ops(transactionId: string): Promise<string[]> {
    const { rows } = await db.query<{ branch_id: string; phase: string }>(
      'SELECT branch_id, phase FROM ops WHERE transaction_id = $1',
      [transactionId],
    );
    return rows.map((r) => `${r.branch_id}:${r.phase}`).sort();
  }

  const branch = (
    id: string,
    protocol: 'saga' | 'tcc' | '2pc' | '3pc' | 'msg',
    action: string,
    account: string,
    amount: number,
  ) => ({
    id,
    participant: name,
    payload: { account, amount },
    paths: phasePaths(protocol, action),
  });

  it('registered itself with its transport and the broker URL', async () => {
    const r = await s.api.get(`/v1/participants/${name}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name, transport: kind, url: new URL(url).href, hasSecret: true, status: 'up' });
  });

  it('commits a saga, each step applied once and signed', async () => {
    const [a, b] = [await open(100), await open(0)];
    const r = await s.api.post('/v1/transactions?wait=10000', {
      protocol: 'saga',
      branches: [branch('debit', 'saga', 'debit', a, 30), branch('credit', 'saga', 'credit', b, 30)],
    });
    expect(r.body.status).toBe('committed');
    expect(r.body.branches[0].result).toEqual({ kind: 'applied', result: { balance: 70 } });
    expect([await balance(a), await balance(b)]).toEqual([70, 30]);
    expect(await ops(r.body.id)).toEqual(['credit:action', 'debit:action']);
  });

  it('aborts a saga on a rejection (a 409 reply) and compensates the earlier step once', async () => {
    const [b, poor] = [await open(0), await open(5)];
    const r = await s.api.post('/v1/transactions?wait=10000', {
      protocol: 'saga',
      branches: [branch('credit', 'saga', 'credit', b, 10), branch('debit', 'saga', 'debit', poor, 1000)],
    });
    expect(r.body.status).toBe('aborted');
    expect(r.body.branches.map((x: { status: string; phase: string }) => `${x.status}/${x.phase}`)).toEqual([
      'completed/compensate',
      'rejected/action',
    ]);
    expect(JSON.stringify(r.body.events)).toContain('insufficient funds');
    expect([await balance(b), await balance(poor)]).toEqual([0, 5]);
    expect(await ops(r.body.id)).toEqual(['credit:action', 'credit:compensate']);
  });

  it("delivers a reliable message once its outbox's check answers committed, all over the broker", async () => {
    const [a, b] = [await open(0), await open(0)];
    const id = `msg-${kind}-${Date.now()}`;
    await db.query(`INSERT INTO txc_outbox (transaction_id, state) VALUES ($1, 'committed')`, [id]);
    await s.api.post('/v1/transactions', {
      id,
      protocol: 'msg',
      mode: 'prepared',
      checkAfterMs: 300,
      check: { participant: name, path: '/msg/check' },
      branches: [branch('pay-a', 'msg', 'credit', a, 5), branch('pay-b', 'msg', 'credit', b, 7)],
    });
    const done = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'committed');
    expect(done.check.answer).toEqual({ state: 'committed' });
    expect([await balance(a), await balance(b)]).toEqual([5, 7]);
    expect(await ops(id)).toEqual(['pay-a:action', 'pay-b:action']);
  });

  it('confirms a TCC transfer', async () => {
    const a = await open(50);
    const r = await s.api.post('/v1/transactions?wait=10000', {
      protocol: 'tcc',
      branches: [branch('hold', 'tcc', 'hold', a, 20)],
    });
    expect(r.body.status).toBe('committed');
    expect(await ops(r.body.id)).toEqual(['hold:confirm', 'hold:try']);
    expect(await balance(a)).toBe(30);
  });

  it.each([
    ['2pc', ['hold:commit', 'hold:prepare']],
    ['3pc', ['hold:can-commit', 'hold:do-commit', 'hold:pre-commit']],
  ] as const)('commits a %s transfer, every phase once', async (protocol, phases) => {
    const a = await open(50);
    const r = await s.api.post('/v1/transactions?wait=10000', {
      protocol,
      branches: [branch('hold', protocol, 'hold', a, 20)],
    });
    expect(r.body.status).toBe('committed');
    expect(await ops(r.body.id)).toEqual(phases);
    expect(await balance(a)).toBe(30);
  });

  it.each(['2pc', '3pc'] as const)(
    'rolls a %s transfer back everywhere when one branch votes no over the broker',
    async (protocol) => {
      const [rich, poor] = [await open(100), await open(5)];
      const r = await s.api.post('/v1/transactions?wait=10000', {
        protocol,
        branches: [branch('rich', protocol, 'hold', rich, 30), branch('poor', protocol, 'hold', poor, 1000)],
      });
      expect(r.body.status).toBe('aborted');
      expect(JSON.stringify(r.body.events)).toContain('insufficient funds');
      expect([await balance(rich), await balance(poor)]).toEqual([100, 5]);
      // whatever the rich branch got to do was undone once; nothing was committed
      const done = await ops(r.body.id);
      const forward = protocol === '2pc' ? 'rich:prepare' : 'rich:can-commit';
      const undo = protocol === '2pc' ? 'rich:rollback' : 'rich:abort';
      expect(done.filter((o) => o === forward).length).toBe(done.filter((o) => o === undo).length);
      expect(done.filter((o) => !o.startsWith('rich:'))).toEqual([]);
      expect(done.every((o) => o === forward || o === undo)).toBe(true);
    },
  );

  it('retries while the participant is down (no answer is unknown) and completes once it is back', async () => {
    await stopBank(bank);
    const [a, b] = [await open(100), await open(0)];
    const id = `down-${kind}-${Date.now()}`;
    const started = await s.api.post('/v1/transactions', {
      id,
      protocol: 'saga',
      // NATS answers "no responders" at once, so 8 attempts end in seconds, sooner than a restart on a busy machine
      retry: { maxAttempts: 100, initialBackoffMs: 200, maxBackoffMs: 1000 },
      branches: [branch('debit', 'saga', 'debit', a, 40), branch('credit', 'saga', 'credit', b, 40)],
    });
    expect(started.status).toBe(201);
    // the first step was tried more than once, each try unknown, and nothing applied
    const waiting = await s.api.until(
      `/v1/transactions/${id}`,
      (t: { status: string; branches: { id: string; attempt: number }[] }) => t.branches[0].attempt >= 2,
      20_000,
    );
    expect(waiting.status).not.toBe('committed');
    expect(await balance(a)).toBe(100);

    bank = await startBank(bankEnv);
    const done = await s.api.until(
      `/v1/transactions/${id}`,
      (t: { status: string }) => t.status === 'committed',
      30_000,
    );
    expect(done.status).toBe('committed');
    expect([await balance(a), await balance(b)]).toEqual([60, 40]);
    expect(await ops(id)).toEqual(['credit:action', 'debit:action']);
  }, 60_000);
});

describe('registration of broker transports', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack('transport_registration');
  });
  afterAll(async () => {
    await s?.close();
  });

  it.each([
    ['nats', 'http://127.0.0.1:4222', 'url', /nats:\/\/ or tls:\/\/ URL for transport nats/],
    ['redis', 'nats://127.0.0.1:4222', 'url', /redis:\/\/ or rediss:\/\/ URL for transport redis/],
    ['rabbitmq', 'redis://127.0.0.1:6379', 'url', /amqp:\/\/ or amqps:\/\/ URL for transport rabbitmq/],
    ['rmq', 'nats://127.0.0.1:4222', 'url', /amqp:\/\/ or amqps:\/\/ URL for transport rmq/],
    ['http', 'nats://127.0.0.1:4222', 'url', /http:\/\/ or https:\/\/ URL for transport http/],
    ['nats', 'nats://user:pass@127.0.0.1:4222', 'url', /must not carry credentials/],
    ['nats', 'nats://169.254.169.254:4222', 'url', /link-local/],
    ['kafka', 'nats://127.0.0.1:4222', 'transport', /./],
  ])('refuses transport %s with url %s: 422 naming %s', async (transport, url, field, rule) => {
    const r = await s.api.post('/v1/participants', { name: `bad-${transport}`, transport, url });
    expect(r.status).toBe(422);
    const errors = r.body.errors as { field: string; rule: string }[];
    expect(errors.some((e) => e.field === field && rule.test(e.rule))).toBe(true);
  });

  it('keeps an http participant as before (the default transport)', async () => {
    const r = await s.api.post('/v1/participants', { name: 'plain-http', url: 'http://127.0.0.1:9/' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ transport: 'http', url: 'http://127.0.0.1:9/' });
  });
});
