import { Pool } from 'pg';
import { Outbox } from '#participant';
import {
  CoordinatorProcess,
  TEST_REDIS_URL,
  TestParticipant,
  apiClient,
  freshDatabase,
  freshRedisPrefix,
  until,
  type FreshDatabase,
} from '#testing';

/** ROLE=api accepts and logs transactions; ROLE=worker drives them. */
describe('api and worker roles', () => {
  let db: FreshDatabase;
  let participant: TestParticipant;
  let api: CoordinatorProcess;
  let worker: CoordinatorProcess;

  beforeAll(async () => {
    db = await freshDatabase('roles');
    participant = await TestParticipant.start();
    const prefix = freshRedisPrefix('roles');
    api = new CoordinatorProcess({
      databaseUrl: db.url,
      redisUrl: TEST_REDIS_URL,
      redisPrefix: prefix,
      env: { ROLE: 'api', LOG_LEVEL: 'warn' },
    });
    worker = new CoordinatorProcess({
      databaseUrl: db.url,
      redisUrl: TEST_REDIS_URL,
      redisPrefix: prefix,
      env: { ROLE: 'worker', LOG_LEVEL: 'warn' },
    });
  });
  afterAll(async () => {
    await api.stop();
    await worker.stop();
    await participant.close();
    await db.drop();
  });

  it('an api instance writes the transaction; a worker instance starts and finishes it', async () => {
    const front = apiClient(await api.start());
    const back = apiClient(await worker.start());
    expect((await back.get('/v1/transactions')).status).toBe(404); // workers serve no client API
    // nor its docs or the dashboard: health and metrics only
    expect((await back.get('/docs')).status).toBe(404);
    expect((await back.get('/docs-json')).status).toBe(404);
    expect((await back.get('/')).status).toBe(404);
    expect((await back.get('/metrics')).status).toBe(200);
    expect((await back.get('/health/ready')).status).toBe(200);
    expect((await front.get('/docs')).status).toBe(200);
    await front.post('/v1/participants', { name: 'p1', url: participant.url });
    const r = await front.post('/v1/transactions?wait=10000', {
      protocol: 'saga',
      branches: [
        { id: 'a', participant: 'p1' },
        { id: 'b', participant: 'p1' },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('committed');
    expect(r.body.events.map((e: any) => e.type)).toEqual([
      'transaction.created',
      'transaction.running',
      'call.started',
      'call.finished',
      'call.started',
      'call.finished',
      'transaction.committed',
    ]);
    expect(participant.callsFor(r.body.id, 'action')).toHaveLength(2);
  });

  it('an api instance refuses replay and retry with a reason (it drives nothing), and passes an abort on', async () => {
    const front = apiClient(api.url);
    for (const action of ['replay', 'retry']) {
      // one that does not exist is 404, as on every instance
      const r = await front.post(`/v1/transactions/any-id/${action}`, { reason: 'try' });
      expect([action, r.status]).toEqual([action, 404]);
    }
    const bulk = await front.post('/v1/transactions/replay', { participant: 'p1', reason: 'try' });
    expect(bulk.status).toBe(409);
    participant.fault({
      transactionId: 'roles-abort-1',
      branchId: 'a',
      phase: 'action',
      status: 200,
      times: 1,
      delayMs: 1_500,
    });
    const started = await front.post('/v1/transactions', {
      id: 'roles-abort-1',
      protocol: 'saga',
      branches: [
        { id: 'a', participant: 'p1' },
        { id: 'b', participant: 'p1' },
      ],
    });
    expect(started.status).toBe(201);
    expect((await front.post('/v1/transactions/roles-abort-1/abort', { reason: 'changed plans' })).status).toBe(202);
    const done = await front.until('/v1/transactions/roles-abort-1', (t: any) => t.status === 'aborted', 15_000);
    expect(done.events.filter((e: any) => e.type === 'operator.abort').map((e: any) => e.detail)).toEqual([
      { actor: 'anonymous', reason: 'changed plans' },
    ]);
    for (const action of ['replay', 'retry']) {
      const r = await front.post(`/v1/transactions/roles-abort-1/${action}`, { reason: 'try' });
      expect([action, r.status]).toEqual([action, 409]);
      expect(r.body.detail).toMatch(/ROLE=api/);
    }
  });

  // an api instance drives interactive registrations where they arrive: it took the whole limit of
  // its own on top of the worker's, and a participant with maxConcurrency 1 saw two calls at once
  it('an api instance holds a share of the limits too (it calls the participants of interactive branches)', async () => {
    const front = apiClient(api.url);
    const slow = await TestParticipant.start();
    slow.latencyMs = 1_000;
    try {
      await front.post('/v1/participants', { name: 'slow', url: slow.url, maxConcurrency: 1 });
      // each coordinator sets its share at its next sweep (every 2 s) once both are live
      await new Promise((r) => setTimeout(r, 4_500));
      const saga = { protocol: 'saga', branches: [{ id: 'a', participant: 'slow' }] };
      const sagas = [1, 2].map(() => front.post('/v1/transactions', saga));
      const tccs = await Promise.all(
        [1, 2].map(() => front.post('/v1/transactions', { protocol: 'tcc', mode: 'interactive' })),
      );
      const registered = tccs.map((t) =>
        front.post(`/v1/transactions/${t.body.id}/branches?wait=10000`, { id: 'x', participant: 'slow' }),
      );
      await Promise.all([...sagas, ...registered]);
      await until(() => slow.calls.filter((c) => c.status !== null).length >= 4, 30_000, 'the four calls answered');
      expect(slow.maxConcurrent).toBe(1);
      for (const t of tccs) await front.post(`/v1/transactions/${t.body.id}/abort`, { reason: 'done' });
    } finally {
      await slow.close();
    }
  });

  it("a sender's outbox sends through an api instance: the message it wrote pending is submitted and delivered", async () => {
    const front = apiClient(api.url);
    const senderDb = await freshDatabase('roles_sender');
    const pool = new Pool({ connectionString: senderDb.url, max: 2 });
    try {
      const outbox = new Outbox({ coordinatorUrl: api.url, participant: 'p1', db: pool });
      await outbox.install();
      const id = 'roles-outbox-1';
      const sender = await pool.connect();
      try {
        await sender.query('BEGIN');
        // an api instance answers the new message `pending` (a worker prepares it): as good as prepared
        const sent = await outbox.send(sender, { id, deliveries: [{ id: 'ship', participant: 'p1' }] });
        await sender.query('COMMIT');
        await sent.submit();
      } finally {
        sender.release();
      }
      const done = await front.until(`/v1/transactions/${id}`, (t: any) => t.status === 'committed', 15_000);
      expect(done.protocol).toBe('msg');
      expect(participant.callsFor(id, 'action')).toHaveLength(1);
    } finally {
      await pool.end();
      await senderDb.drop();
    }
  });
});
