import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import {
  CoordinatorProcess,
  TestParticipant,
  apiClient,
  freePort,
  sagaBody,
  startTestStack,
  type TestStack,
  until,
} from '#testing';

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

  // the server, in the terminal's process group, shut down at once on the same Ctrl-C, and a start
  // waiting on its transaction was answered 503 (the log unavailable) instead of 202
  it('answers a start waiting on its transaction 202, the server outliving the coordinator’s stop', async () => {
    coordinator = new CoordinatorProcess({
      databaseUrl: '',
      env: { DATA_DIR: dataDir, EMBEDDED_PG_PORT: port, LOG_LEVEL: 'log' },
      ownProcessGroup: true,
    });
    const api = apiClient(await coordinator.start());
    participant.fault({ branchId: 'slow', phase: 'action', status: 200, times: 1, delayMs: 120_000 });
    const waiting = api.post('/v1/transactions?wait=30000', {
      protocol: 'saga',
      branches: [{ id: 'slow', participant: 'p1' }],
    });
    await until(() => participant.calls.some((c) => c.body.branchId === 'slow'));
    const code = await coordinator.interrupt();
    const answer = await waiting;
    expect({ code, status: answer.status, txn: answer.body.status }).toEqual({ code: 0, status: 202, txn: 'running' });
    expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  }, 120_000);
});

/**
 * SIGTERM (or Ctrl-C) on a coordinator with its own Postgres lets go of the transactions it owns
 * before it exits, so another instance takes them over at once. The embedded Postgres library, once
 * loaded, hooked both signals to exit the process (143, 130) a few ticks later: the clean stop was
 * cut short and the transaction stayed owned by the stopped instance until its TTL ran out.
 */
describe('SIGTERM on a coordinator with DATABASE_URL', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack('sigterm', { redis: false, env: { LOG_LEVEL: 'log', CALL_TIMEOUT_MS: '60000' } });
  });
  afterAll(async () => {
    await stack?.coordinator.kill();
    await stack?.participant.close();
    await stack?.db.drop();
  });

  it('exits 0 after letting go of the transaction it is driving, without waiting for the call still out', async () => {
    const { api, participant, coordinator, db } = stack;
    participant.fault({ branchId: 'a', phase: 'action', status: 200, times: 1, delayMs: 30_000 });
    const started = await api.post('/v1/transactions', sagaBody(['a']));
    expect(started.status).toBe(201);
    const id = started.body.id as string;
    // the call is out, so the transaction is owned by this coordinator
    await until(() => participant.callsFor(id, 'action').length === 1);
    const ownerBefore = await ownerOf(db.url, id);
    expect(ownerBefore).not.toBeNull();

    await coordinator.stop();
    const code = await coordinator.exited;
    expect({ code, tail: code === 0 ? '' : coordinator.log.slice(-3_000) }).toEqual({ code: 0, tail: '' });
    expect(coordinator.log).toContain('SIGTERM: stopping');
    expect(await ownerOf(db.url, id)).toBeNull();
    // the participant holds its answer for 30 s: the stop ended the call rather than waiting for it
    expect(participant.callsFor(id, 'action')[0].answeredAt).toBeNull();
  }, 60_000);

  // A start waiting for its transaction (`?wait=`) was left waiting by the stopped driver until its
  // wait ran out, and its keep-alive connection then held the server's close for the keep-alive
  // timeout (72 s): this stop took about 100 s. Now it answers 202 (running, let go) at once, with
  // `Connection: close`.
  it('answers a start waiting for its transaction at once, and exits before that wait would end', async () => {
    const { participant, coordinator } = stack;
    const api = apiClient(await coordinator.start());
    participant.fault({ branchId: 'b', phase: 'action', status: 200, times: 1, delayMs: 120_000 });
    const sent = Date.now();
    const waiting = api.post('/v1/transactions?wait=30000', sagaBody(['b']));
    await until(() => participant.calls.some((c) => c.body.branchId === 'b'));

    await coordinator.stop();
    const exitedAfterMs = Date.now() - sent;
    const answer = await waiting;
    const code = await coordinator.exited;
    expect({ code, tail: code === 0 ? '' : coordinator.log.slice(-3_000) }).toEqual({ code: 0, tail: '' });
    expect({ status: answer.status, txn: answer.body.status }).toEqual({ status: 202, txn: 'running' });
    expect(answer.headers.get('connection')).toBe('close');
    expect(exitedAfterMs).toBeLessThan(30_000);
    expect(await ownerOf(stack.db.url, answer.body.id)).toBeNull();
  }, 150_000);

  // An open live stream (a dashboard left open) never ends on its own, and the server's close waited
  // for it: the process never exited. Now the stream ends whole and the process exits.
  it('ends an open live stream and exits', async () => {
    const { coordinator } = stack;
    const base = await coordinator.start();
    const stream = await fetch(`${base}/v1/stream`);
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    const ended = (async () => {
      for (;;) if ((await reader.read()).done) return 'ended';
    })().catch((e: unknown) => `cut: ${String(e)}`);

    await coordinator.stop();
    const code = await coordinator.exited;
    expect({ code, tail: code === 0 ? '' : coordinator.log.slice(-3_000) }).toEqual({ code: 0, tail: '' });
    expect(await ended).toBe('ended');
  }, 60_000);
});

describe('SIGTERM with a forward phase still out', () => {
  let stack: TestStack;
  let api: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    stack = await startTestStack('sigterm_forward', { redis: false, env: { CALL_TIMEOUT_MS: '60000' } });
    api = stack.api;
  });
  afterAll(async () => {
    await stack?.coordinator.kill();
    await stack?.participant.close();
    await stack?.db.drop();
  });

  // A 2PC prepare still out at the stop was left in flight in the log, and the next owner took it for
  // lost, as after a crash: presumed abort. A rolling restart aborted every transaction about to vote
  // yes. Now the stop withdraws the call, and the next owner delivers the prepare again.
  it.each(['2pc', 'tcc'] as const)(
    'has the next start deliver again a %s forward phase still out at the stop, and the transaction commits',
    async (protocol) => {
      const { participant, coordinator } = stack;
      const forward = protocol === '2pc' ? 'prepare' : 'try';
      const branch = `slow-${protocol}`;
      participant.fault({ branchId: branch, phase: forward, status: 200, times: 1, delayMs: 120_000 });
      const started = await api.post('/v1/transactions', {
        protocol,
        branches: [
          { id: branch, participant: 'p1' },
          { id: 'quick', participant: 'p1' },
        ],
      });
      expect(started.status).toBe(201);
      const id = started.body.id as string;
      await until(() => participant.callsFor(id, forward).length === 2);

      await coordinator.stop();
      expect(await coordinator.exited).toBe(0);
      api = apiClient(await coordinator.start());
      let settled: Record<string, unknown> = {};
      await until(
        async () => {
          settled = (await api.get(`/v1/transactions/${id}`)).body;
          return ['committed', 'aborted', 'failed'].includes(settled.status as string);
        },
        30_000,
        'the transaction to settle',
      );
      expect({ status: settled.status, error: settled.error }).toEqual({ status: 'committed', error: null });
      // delivered again under the same key; the timeline says why
      const forwards = participant.callsFor(id, forward).filter((c) => c.body.branchId === branch);
      expect(forwards).toHaveLength(2);
      expect(new Set(forwards.map((c) => c.headers['idempotency-key'])).size).toBe(1);
      const withdrawn = (settled.events as { type: string; branchId: string; detail: { reason?: string } }[]).filter(
        (e) => e.type === 'call.deferred' && e.branchId === branch,
      );
      expect(withdrawn.map((e) => e.detail.reason)).toEqual(['coordinator-stopped']);
    },
    60_000,
  );
});

async function ownerOf(url: string, id: string): Promise<string | null> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ owner: string | null }>('SELECT owner FROM txc_transactions WHERE id = $1', [
      id,
    ]);
    return rows[0]?.owner ?? null;
  } finally {
    await client.end();
  }
}
