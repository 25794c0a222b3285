import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'pg';
import { phasePaths } from '#participant';
import {
  TcpProxy,
  freePort,
  freshDatabase,
  startBank,
  startTestStack,
  stopBank,
  type BankProcess,
  type FreshDatabase,
  type TestStack,
} from '#testing';

/**
 * A broker this test may stop and start again. NATS and Redis are private servers on a free port
 * (restarting the machine's shared ones would disturb every other test using them). RabbitMQ has no
 * cheap private instance, so the shared one is put behind a TcpProxy, and "stopped" is the proxy
 * cutting every connection and refusing new ones: what the coordinator and the participant see of
 * a broker that went away and came back, though the broker itself keeps its state.
 */
interface RestartableBroker {
  url: string;
  /** Holds every byte in flight without cutting anything (RabbitMQ's proxy only), until `stop` or `start`. */
  hold?(): void;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

async function untilListening(port: number, what: string): Promise<void> {
  const end = Date.now() + 15_000;
  for (;;) {
    const open = await new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
    });
    if (open) return;
    if (Date.now() > end) throw new Error(`${what} not listening on ${port} after 15 s`);
    await sleep(100);
  }
}

/** A broker server process of our own on `port`, started and stopped (SIGKILL: no goodbye to clients). */
async function privateServer(
  what: string,
  command: string,
  args: (port: number) => string[],
  scheme: string,
): Promise<RestartableBroker> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(command, args(port), { stdio: 'ignore' });
    await untilListening(port, what);
  };
  const stop = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((done) => child!.once('exit', done));
    child.kill('SIGKILL');
    await exited;
  };
  await start();
  return { url: `${scheme}://127.0.0.1:${port}`, start, stop, close: stop };
}

async function proxiedRabbitMq(): Promise<RestartableBroker> {
  const target = new URL(process.env.TEST_AMQP_URL ?? 'amqp://127.0.0.1:5672');
  const proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 5672) });
  return {
    url: `amqp://127.0.0.1:${proxy.port}`,
    hold: () => proxy.pause(),
    stop: async () => void proxy.down(),
    start: async () => {
      proxy.up();
      proxy.resume();
    },
    close: () => proxy.close(),
  };
}

const BROKERS: { kind: 'nats' | 'redis' | 'rabbitmq'; make: () => Promise<RestartableBroker> }[] = [
  {
    kind: 'nats',
    make: () => privateServer('nats-server', 'nats-server', (port) => ['-a', '127.0.0.1', '-p', String(port)], 'nats'),
  },
  {
    kind: 'redis',
    make: () =>
      privateServer(
        'redis-server',
        'redis-server',
        (port) => ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
        'redis',
      ),
  },
  { kind: 'rabbitmq', make: proxiedRabbitMq },
];

describe.each(BROKERS)('a $kind broker restarted mid-run', ({ kind, make }) => {
  const name = `bank-restart-${kind}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let broker: RestartableBroker;
  let s: TestStack;
  let bankDb: FreshDatabase;
  let db: Pool;
  let bank: BankProcess | undefined;

  beforeAll(async () => {
    broker = await make();
    s = await startTestStack(`restart_${kind}`, { env: { CALL_TIMEOUT_MS: '1500', SWEEP_INTERVAL_MS: '200' } });
    bankDb = await freshDatabase(`restart_${kind}_bank`);
    bank = await startBank({
      TRANSPORT: kind,
      BROKER_URL: broker.url,
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
    await broker?.close();
  });

  async function open(balance: number): Promise<string> {
    const id = `acc-${Math.random().toString(36).slice(2)}`;
    await db.query('INSERT INTO accounts (id, balance) VALUES ($1, $2)', [id, balance]);
    return id;
  }

  const branch = (id: string, action: string, account: string, amount: number, holdMs?: number) => ({
    id,
    participant: name,
    payload: { account, amount, ...(holdMs ? { holdMs } : {}) },
    paths: phasePaths('saga', action),
  });

  /** The bank must outlive every broker fault: a participant that exits on one is a defect of the SDK. */
  function expectBankRunning(): void {
    const child = bank?.child;
    if (!child || child.exitCode !== null || child.signalCode) {
      throw new Error(
        `the participant exited (${child?.exitCode ?? child?.signalCode}):\n${bank?.output().slice(-4000)}`,
      );
    }
  }

  it('a reply lost to the connection cut leaves the participant running, and the step applies once', async () => {
    const [from, to] = [await open(100), await open(0)];
    const id = `lost-reply-${kind}-${process.pid}`;
    // the debit takes 2 s. The broker goes away while it runs and is back only after it answered;
    // where the connection can be held (RabbitMQ), the reply is sent into the held connection, so
    // it is unconfirmed when the cut comes
    const started = await s.api.post('/v1/transactions', {
      id,
      protocol: 'saga',
      retry: { maxAttempts: 30, initialBackoffMs: 200, maxBackoffMs: 1000 },
      branches: [branch('debit', 'debit', from, 10, 2_000), branch('credit', 'credit', to, 10)],
    });
    expect(started.status).toBe(201);
    await sleep(700);
    if (broker.hold) {
      broker.hold();
      await sleep(2_000);
    }
    await broker.stop();
    await sleep(2_500);
    await broker.start();
    const done = await s.api
      .until(`/v1/transactions/${id}`, (t: { status: string }) => t.status === 'committed', 60_000)
      .catch((error: Error) => {
        expectBankRunning();
        throw error;
      });
    expect(done.status).toBe('committed');
    expectBankRunning();
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM ops WHERE transaction_id = $1', [id]);
    expect(Number(rows[0].n)).toBe(2);
  }, 90_000);

  it('every transfer started around the restart commits, each step applied once', async () => {
    // the broker path works before the restart
    const [a0, b0] = [await open(100), await open(0)];
    const warm = await s.api.post('/v1/transactions?wait=10000', {
      protocol: 'saga',
      branches: [branch('debit', 'debit', a0, 10), branch('credit', 'credit', b0, 10)],
    });
    expect(warm.body.status).toBe('committed');

    const source = await open(1000);
    const sinks: string[] = [];
    const ids: string[] = [];
    const submit = async (i: number) => {
      const sink = await open(0);
      sinks.push(sink);
      const id = `restart-${kind}-${process.pid}-${i}`;
      ids.push(id);
      const r = await s.api.post('/v1/transactions', {
        id,
        protocol: 'saga',
        retry: { maxAttempts: 30, initialBackoffMs: 200, maxBackoffMs: 1000 },
        branches: [branch('debit', 'debit', source, 10), branch('credit', 'credit', sink, 10)],
      });
      expect(r.status).toBe(201);
    };
    for (let i = 0; i < 3; i += 1) await submit(i);
    await broker.stop();
    for (let i = 3; i < 6; i += 1) await submit(i);

    // while it is down, a call gets no answer (unknown), or waits for the open circuit's probe
    // (deferred, burning no attempt), applying nothing
    const waiting = await s.api.until(
      `/v1/transactions/${ids[5]}`,
      (t: { status: string; attempts: { outcome: string }[]; events: { type: string }[] }) =>
        t.attempts.some((a) => a.outcome === 'unknown') || t.events.some((e) => e.type === 'call.deferred'),
      20_000,
    );
    expect(waiting.status).not.toBe('committed');

    await broker.start();
    for (const id of ids) {
      const done = await s.api
        .until(`/v1/transactions/${id}`, (t: { status: string }) => t.status === 'committed', 60_000)
        .catch((error: Error) => {
          expectBankRunning();
          // what the coordinator said is what tells a lost call from a crash
          throw new Error(`${error.message}\ncoordinator log:\n${s.coordinator.log.slice(-6000)}`);
        });
      expect(done.status).toBe('committed');
    }
    const { rows } = await db.query<{ transaction_id: string; n: string }>(
      `SELECT transaction_id, count(*) AS n FROM ops WHERE transaction_id = ANY($1) GROUP BY transaction_id`,
      [ids],
    );
    expect(Object.fromEntries(rows.map((r) => [r.transaction_id, Number(r.n)]))).toEqual(
      Object.fromEntries(ids.map((id) => [id, 2])),
    );
    const balances = await db.query<{ id: string; balance: number }>(
      'SELECT id, balance FROM accounts WHERE id = ANY($1) ORDER BY id',
      [[source, ...sinks]],
    );
    const byId = Object.fromEntries(balances.rows.map((r) => [r.id, r.balance]));
    expect(byId[source]).toBe(1000 - 10 * ids.length);
    expect(sinks.map((sink) => byId[sink])).toEqual(sinks.map(() => 10));
  }, 150_000);
});
