import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { Client } from 'pg';
import {
  CoordinatorProcess,
  TEST_REDIS_URL,
  TestParticipant,
  apiClient,
  freshDatabase,
  freshRedisPrefix,
  freePort,
  type ApiClient,
  type FreshDatabase,
} from '#testing';

// the order service of libs/participant/test-app, built (it runs the SDK's outbox as a real process)
const ORDER_SERVICE = resolve(__dirname, '../../dist/libs/participant/test-app/order-service.js');
const CHECK_AFTER_MS = '500';

/**
 * Reliable messages when the sender dies: the order service (a real process using the participant
 * SDK's outbox) is SIGKILLed after its local commit and before its submit, or before its local
 * commit. The coordinator's check, answered by another instance of the order service from the
 * outbox's marker, must deliver the first exactly once and abort the second with no consumer ever
 * called, also with the coordinator itself SIGKILLed and restarted meanwhile.
 */
describe('reliable messages: the sender SIGKILLed around its local commit', () => {
  let db: FreshDatabase;
  let ordersDb: FreshDatabase;
  let consumers: TestParticipant;
  let checkServer: ChildProcess;
  let coordinator: CoordinatorProcess;
  let api: ApiClient;
  const prefix = freshRedisPrefix('msg-crash');

  const startCoordinator = async () => {
    coordinator = new CoordinatorProcess({ databaseUrl: db.url, redisUrl: TEST_REDIS_URL, redisPrefix: prefix });
    api = apiClient(await coordinator.start({ LOG_LEVEL: 'warn' }));
  };

  beforeAll(async () => {
    db = await freshDatabase('msg_crash');
    ordersDb = await freshDatabase('msg_orders');
    consumers = await TestParticipant.start();
    await startCoordinator();
    const port = await freePort();
    checkServer = spawn(process.execPath, [ORDER_SERVICE], {
      env: {
        PATH: process.env.PATH ?? '',
        MODE: 'serve',
        PORT: String(port),
        DATABASE_URL: ordersDb.url,
        COORDINATOR_URL: coordinator.url,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((ready, fail) => {
      let out = '';
      const onData = (c: Buffer) => {
        out += c.toString();
        if (out.includes('order service ready:')) ready();
      };
      checkServer.stdout!.on('data', onData);
      checkServer.stderr!.on('data', onData);
      checkServer.once('exit', (code) => fail(new Error(`order service exited ${code}: ${out}`)));
    });
    for (const name of ['inventory', 'shipping']) {
      expect((await api.post('/v1/participants', { name, url: consumers.url })).status).toBe(201);
    }
    expect((await api.post('/v1/participants', { name: 'orders', url: `http://127.0.0.1:${port}` })).status).toBe(201);
  });
  afterAll(async () => {
    checkServer?.kill('SIGKILL');
    await coordinator?.stop();
    await consumers?.close();
    await db?.drop();
    await ordersDb?.drop();
  });

  /** Runs one sender; resolves with how it ended (a signal for a SIGKILL) and what it printed. */
  function placeOrder(id: string, crashAt: 'before-commit' | 'after-commit' | 'none') {
    return new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((done) => {
      const child = spawn(process.execPath, [ORDER_SERVICE], {
        env: {
          PATH: process.env.PATH ?? '',
          MODE: 'send',
          ORDER_ID: id,
          CRASH_AT: crashAt,
          CHECK_AFTER_MS,
          DATABASE_URL: ordersDb.url,
          COORDINATOR_URL: coordinator.url,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
      child.once('exit', (code, signal) => done({ code, signal, output }));
    });
  }

  async function committedOrders(ids: string[]): Promise<Set<string>> {
    const client = new Client({ connectionString: ordersDb.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string }>('SELECT id FROM orders WHERE id = ANY($1)', [ids]);
      return new Set(rows.map((r) => r.id));
    } finally {
      await client.end();
    }
  }

  /** The message's final view, or null if it was never prepared (the sender died before). */
  async function settled(id: string): Promise<any> {
    for (let i = 0; i < 300; i++) {
      const r = await api.get(`/v1/transactions/${id}`).catch(() => null);
      if (r?.status === 404) return null;
      if (r && ['committed', 'aborted', 'failed'].includes(r.body.status)) return r.body;
      await new Promise((w) => setTimeout(w, 100));
    }
    throw new Error(`message ${id} did not settle:\n${coordinator.state()}`);
  }

  /** The messages' statuses once none is in flight any more, or as they are after `ms`. */
  async function messageStatuses(ids: string[], ms: number): Promise<Map<string, string>> {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      for (const until = Date.now() + ms; ;) {
        const { rows } = await client.query<{ id: string; status: string }>(
          'SELECT id, status FROM txc_transactions WHERE id = ANY($1)',
          [ids],
        );
        const open = rows.filter((r) => !['committed', 'aborted', 'failed'].includes(r.status));
        if (open.length === 0 || Date.now() > until) return new Map(rows.map((r) => [r.id, r.status]));
        await new Promise((w) => setTimeout(w, 500));
      }
    } finally {
      await client.end();
    }
  }

  it('killed after its local commit and before submit: the check delivers the message exactly once', async () => {
    const id = `order-after-${Date.now()}`;
    const sender = await placeOrder(id, 'after-commit');
    expect(sender.signal).toBe('SIGKILL');
    expect(sender.output).not.toContain('order placed');
    expect((await api.get(`/v1/transactions/${id}`)).body.status).toBe('prepared');
    const done = await settled(id);
    expect(done.status).toBe('committed');
    expect(done.check).toMatchObject({ status: 'succeeded', answer: { state: 'committed' } });
    expect([...(await committedOrders([id]))]).toEqual([id]);
    expect(consumers.outcome(id, 'inventory').applied).toBe(1);
    expect(consumers.outcome(id, 'shipping').applied).toBe(1);
  });

  it('killed before its local commit: the check aborts the message and no consumer ever sees it', async () => {
    const id = `order-before-${Date.now()}`;
    const sender = await placeOrder(id, 'before-commit');
    expect(sender.signal).toBe('SIGKILL');
    const done = await settled(id);
    expect(done.status).toBe('aborted');
    expect(done.check).toMatchObject({ status: 'rejected', answer: { state: 'rolledback' } });
    expect((await committedOrders([id])).size).toBe(0);
    expect(consumers.callsFor(id)).toEqual([]);
  });

  it('a sender that lives submits, and its message is delivered once', async () => {
    const id = `order-ok-${Date.now()}`;
    const sender = await placeOrder(id, 'none');
    expect(sender.output).toContain(`order placed: ${id}`);
    const done = await settled(id);
    expect(done.status).toBe('committed');
    // its submit usually comes before the check; if the check came first, it answered committed
    expect(['skipped', 'succeeded']).toContain(done.check.status);
    expect(consumers.outcome(id, 'inventory').applied).toBe(1);
    expect(consumers.outcome(id, 'shipping').applied).toBe(1);
  });

  it('100 of each, interleaved with coordinator restarts: every committed order delivered once per consumer, every rolled-back one never', async () => {
    const runs = Array.from({ length: 200 }, (_, i) => ({
      id: `order-${i}-${Date.now()}`,
      crashAt: (i % 2 === 0 ? 'after-commit' : 'before-commit') as 'after-commit' | 'before-commit',
    }));
    let next = 0;
    let restarts = 0;
    /** Set while the coordinator restarts: no new sender starts (the machine is shared; a start must not starve). */
    let restarting: Promise<void> | null = null;
    const sender = async () => {
      while (next < runs.length) {
        await restarting;
        const run = runs[next++];
        await placeOrder(run.id, run.crashAt);
      }
    };
    // the coordinator is SIGKILLed and started again every ~40 senders, while senders and checks are in
    // flight: a sender running then may find it gone (its prepare fails, so its order rolls back)
    const chaos = (async () => {
      while (next < runs.length) {
        const at = next;
        while (next < Math.min(runs.length, at + 40)) await new Promise((w) => setTimeout(w, 200));
        if (next >= runs.length) break;
        await coordinator.kill();
        restarting = startCoordinator();
        await restarting;
        restarting = null;
        restarts++;
      }
    })();
    await Promise.all([sender(), sender(), sender(), sender(), chaos]);
    expect(restarts).toBeGreaterThanOrEqual(3);

    process.stderr.write(`msg chaos: 200 senders done, ${restarts} coordinator restarts; checking\n`);
    const committed = await committedOrders(runs.map((r) => r.id));
    // the crashes before a commit never commit an order; those after it did, unless the coordinator
    // was down for their prepare (their send failed, so their order rolled back)
    for (const run of runs) if (run.crashAt === 'before-commit') expect(committed.has(run.id)).toBe(false);
    expect(committed.size).toBeGreaterThan(50);
    const statuses = await messageStatuses(
      runs.map((r) => r.id),
      120_000,
    );
    const wrong = runs.flatMap((run) => {
      const status = statuses.get(run.id) ?? 'never prepared';
      const expected = committed.has(run.id) ? ['committed'] : ['aborted', 'never prepared'];
      return expected.includes(status) ? [] : [`${run.id} (${run.crashAt}): ${status}`];
    });
    expect(wrong).toEqual([]);
    for (const run of runs) {
      if (committed.has(run.id)) {
        expect(consumers.outcome(run.id, 'inventory').applied).toBe(1);
        expect(consumers.outcome(run.id, 'shipping').applied).toBe(1);
      } else {
        expect(consumers.callsFor(run.id, 'action')).toEqual([]);
      }
    }
  }, 600_000);
});
