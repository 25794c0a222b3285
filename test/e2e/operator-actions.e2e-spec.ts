import { Phase } from '#contracts';
import {
  CoordinatorProcess,
  TEST_REDIS_URL,
  apiClient,
  freshRedisPrefix,
  BREAKERS_OFF,
  startTestStack,
  type TestStack,
} from '#testing';

/**
 * The operator surface: attention states, replay, retry now and bulk replay, each recorded as
 * `operator.<action>` with the actor and the reason, and history that a replay does not overwrite.
 */
describe('operator actions', () => {
  let s: TestStack;
  let keys: string;
  beforeAll(async () => {
    keys = 'root:admin:root-secret-0123456789,ops-alice:operator:alice-secret-0123456789';
    // calls may take 10 s: the remote abort below lands while a slow first step is in flight
    // p1 fails many times in a row to park transactions as failed: no breaker may open on it
    const env = { API_KEYS: keys, CALL_TIMEOUT_MS: '10000', ...BREAKERS_OFF };
    s = await startTestStack('operator', { env, apiKey: 'root-secret-0123456789' });
    s.api = s.api.as('alice-secret-0123456789'); // everything below acts as the operator
  });
  afterAll(() => s?.close());

  const quick = { maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 100 };

  /** A saga whose step b fails and whose compensation of a fails too: parked as `failed`. */
  async function failedSaga(id: string): Promise<any> {
    s.participant.fault({ transactionId: id, branchId: 'b', phase: 'action', status: 500, times: 100 });
    s.participant.fault({ transactionId: id, branchId: 'a', phase: 'compensate', status: 503, times: 100 });
    const r = await s.api.post('/v1/transactions?wait=15000', {
      id,
      protocol: 'saga',
      retry: quick,
      branches: [
        { id: 'a', participant: 'p1', payload: { n: 1 } },
        { id: 'b', participant: 'p1', payload: { n: 2 } },
      ],
    });
    expect(r.body.status).toBe('failed');
    return r.body;
  }

  it('shows a failed transaction as needing an operator, replays it with a reason, keeps its history', async () => {
    const failed = await failedSaga('op-replay-1');
    expect(failed.attention).toBe('failed');
    expect(failed.firstError).toMatchObject({ branchId: 'b', phase: 'action', attempt: 1 });
    expect(failed.firstError.error).toMatch(/500/);
    const listed = await s.api.get('/v1/transactions?attention=failed');
    expect(listed.body.items.map((t: any) => t.id)).toContain('op-replay-1');
    expect((await s.api.get('/v1/stats')).body.attention.failed).toBeGreaterThanOrEqual(1);
    // an abort cannot finish it (it was aborting when it failed): 409 says so and what will, and writes nothing
    const abort = await s.api.post('/v1/transactions/op-replay-1/abort', { reason: 'stop it' });
    expect([abort.status, abort.body.detail]).toEqual([409, expect.stringMatching(/is failed.*replay/)]);
    const after = (await s.api.get('/v1/transactions/op-replay-1')).body;
    expect(after.events.some((e: any) => e.type === 'operator.abort')).toBe(false);

    s.participant.clearFaults();
    const replayed = await s.api.post('/v1/transactions/op-replay-1/replay', { reason: 'inventory fixed' });
    expect(replayed.status).toBe(202);
    const done = await s.api.until('/v1/transactions/op-replay-1', (t: any) => t.status === 'aborted');
    expect(done.events.filter((e: any) => e.type === 'operator.replay').map((e: any) => e.detail)).toEqual([
      { actor: 'ops-alice', reason: 'inventory fixed' },
    ]);
    // what went wrong before the replay is still there, and why it aborted is its error again
    expect(done.firstError).toEqual(failed.firstError);
    const aborting = done.events.find((e: any) => e.type === 'transaction.aborting');
    expect(done.error).toMatch(/^branch b action/);
    expect(done.error).toBe(aborting.detail.error);
    expect(done.events.some((e: any) => e.type === 'transaction.failed')).toBe(true);
    expect(done.attempts.filter((a: any) => a.branchId === 'a' && a.phase === 'compensate' && a.error).length).toBe(2);
    expect(done.attention).toBe('done');
    expect((await s.api.post('/v1/transactions/op-replay-1/replay', { reason: 'again' })).status).toBe(409);
  });

  it('concurrent replays of one failed transaction: one is accepted and recorded, the others are 409', async () => {
    await failedSaga('op-replay-many');
    s.participant.clearFaults();
    const answers = await Promise.all(
      [1, 2, 3].map((n) => s.api.post('/v1/transactions/op-replay-many/replay', { reason: `try ${n}` })),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([202, 409, 409]);
    const done = await s.api.until('/v1/transactions/op-replay-many', (t: any) => t.status === 'aborted');
    expect(done.events.filter((e: any) => e.type === 'operator.replay')).toHaveLength(1);
  });

  it('concurrent aborts of one transaction: one is accepted (202), the others find it aborting (200)', async () => {
    const id = 'op-abort-many';
    s.participant.fault({ transactionId: id, branchId: 'a', phase: 'action', status: 200, times: 1, delayMs: 2_000 });
    const started = await s.api.post('/v1/transactions', {
      id,
      protocol: 'saga',
      branches: [
        { id: 'a', participant: 'p1', payload: {} },
        { id: 'b', participant: 'p1', payload: {} },
      ],
    });
    expect(started.status).toBe(201);
    const answers = await Promise.all(
      [1, 2, 3].map((n) => s.api.post(`/v1/transactions/${id}/abort`, { reason: `stop ${n}` })),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 202]);
    const done = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'aborted', 15_000);
    expect(done.events.filter((e: any) => e.type === 'operator.abort')).toHaveLength(1);
  });

  it('retry now: a branch waiting out a long backoff is called at once, and shown as retrying until then', async () => {
    const id = 'op-retry-1';
    s.participant.fault({ transactionId: id, branchId: 'a', phase: 'action', status: 500, times: 1 });
    const started = await s.api.post('/v1/transactions', {
      id,
      protocol: 'saga',
      retry: { maxAttempts: 3, initialBackoffMs: 120_000, maxBackoffMs: 120_000 },
      branches: [{ id: 'a', participant: 'p1', payload: {} }],
    });
    expect(started.status).toBe(201);
    const waiting = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.branches[0].retrying === true);
    expect(waiting.attention).toBe('retrying');
    expect(waiting.branches[0].nextAttemptAt).not.toBeNull();
    expect(waiting.branches[0].lastError).toMatch(/500/);
    expect((await s.api.get('/v1/transactions?attention=retrying')).body.items.map((t: any) => t.id)).toContain(id);
    expect((await s.api.get('/v1/transactions?attention=healthy')).body.items.map((t: any) => t.id)).not.toContain(id);

    expect((await s.api.post(`/v1/transactions/${id}/retry`, { reason: 'participant is back' })).status).toBe(202);
    const done = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'committed', 15_000);
    expect(done.events.find((e: any) => e.type === 'operator.retry').detail).toEqual({
      actor: 'ops-alice',
      reason: 'participant is back',
    });
    expect((await s.api.post(`/v1/transactions/${id}/retry`, { reason: 'nothing waits' })).status).toBe(409);
  });

  it('a retry in flight is still retrying, not healthy: its attempt before it failed', async () => {
    const id = 'op-retry-in-flight';
    s.participant.fault({ transactionId: id, branchId: 'a', phase: 'action', status: 500, times: 1 });
    s.participant.fault({
      transactionId: id,
      branchId: 'a',
      phase: 'action',
      status: 200,
      times: 1,
      when: 'after',
      delayMs: 4_000,
    });
    const started = await s.api.post('/v1/transactions', {
      id,
      protocol: 'saga',
      retry: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 100 },
      branches: [{ id: 'a', participant: 'p1', payload: {} }],
    });
    expect(started.status).toBe(201);
    // the second attempt is out (in flight, no next attempt scheduled)
    const again = await s.api.until(
      `/v1/transactions/${id}`,
      (t: any) => t.branches[0].attempt === 2 && t.branches[0].nextAttemptAt === null && t.status === 'running',
    );
    expect({ attention: again.attention, retrying: again.branches[0].retrying }).toEqual({
      attention: 'retrying',
      retrying: true,
    });
    expect((await s.api.get('/v1/transactions?attention=retrying')).body.items.map((t: any) => t.id)).toContain(id);
    expect((await s.api.get('/v1/transactions?attention=healthy')).body.items.map((t: any) => t.id)).not.toContain(id);
    await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'committed', 15_000);
  });

  it('bulk replay: a dry run freezes the matching ids, the run replays each and answers per item', async () => {
    const ids = ['op-bulk-1', 'op-bulk-2', 'op-bulk-3'];
    for (const id of ids) await failedSaga(id);
    expect((await s.api.post('/v1/transactions/replay', { ids })).status).toBe(422); // no reason
    const dry = await s.api.post('/v1/transactions/replay', { participant: 'p1', reason: 'look first', dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body.dryRun).toBe(true);
    expect(dry.body.ids).toEqual(expect.arrayContaining(ids));
    // nothing was replayed by the dry run
    for (const id of ids) expect((await s.api.get(`/v1/transactions/${id}`)).body.status).toBe('failed');

    // both filters: a failed id without the participant asked for is skipped, and says so
    const elsewhere = await s.api.post('/v1/transactions/replay', {
      participant: 'p2',
      ids: [ids[0]],
      reason: 'p2 only',
    });
    expect(elsewhere.body.results).toEqual([
      { id: ids[0], outcome: 'skipped', detail: 'failed, but participant "p2" has no branch in it' },
    ]);
    expect((await s.api.get(`/v1/transactions/${ids[0]}`)).body.status).toBe('failed');

    s.participant.clearFaults();
    const run = await s.api.post('/v1/transactions/replay', { ids: [...ids, 'op-missing'], reason: 'fixed in 1.2.3' });
    expect(run.status).toBe(200);
    expect(run.body.results).toEqual([
      ...ids.map((id) => ({ id, outcome: 'replayed', detail: null })),
      { id: 'op-missing', outcome: 'skipped', detail: 'no transaction with this id' },
    ]);
    for (const id of ids) {
      const t = await s.api.until(`/v1/transactions/${id}`, (v: any) => v.status === 'aborted');
      expect(t.events.find((e: any) => e.type === 'operator.replay').detail.reason).toBe('fixed in 1.2.3');
    }
    const again = await s.api.post('/v1/transactions/replay', { ids, reason: 'twice' });
    expect(again.body).toMatchObject({
      matched: 0,
      results: ids.map((id) => ({ id, outcome: 'skipped', detail: 'not a failed transaction: it is aborted' })),
    });
  });

  it('an abort asked of another instance than the owner is recorded with its actor and reason by the owner', async () => {
    const id = 'op-abort-remote-1';
    const other = new CoordinatorProcess({
      databaseUrl: s.db.url,
      redisUrl: TEST_REDIS_URL,
      redisPrefix: freshRedisPrefix('operator-2'),
      env: { LOG_LEVEL: 'warn', API_KEYS: keys, CALL_TIMEOUT_MS: '10000' }, // configured like the owner
    });
    try {
      // the second instance is up before the transaction starts, so the abort lands while the
      // owner (the first instance) waits on a slow first step
      const api = apiClient(await other.start(), { authorization: 'Bearer alice-secret-0123456789' });
      s.participant.fault({ transactionId: id, branchId: 'a', phase: 'action', status: 200, times: 1, delayMs: 5_000 });
      const started = await s.api.post('/v1/transactions', {
        id,
        protocol: 'saga',
        branches: [
          { id: 'a', participant: 'p1', payload: {} },
          { id: 'b', participant: 'p1', payload: {} },
        ],
      });
      expect(started.status).toBe(201);
      const asked = await api.post(`/v1/transactions/${id}/abort`, { reason: 'customer cancelled' });
      expect(asked.status).toBe(202);
      const done = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'aborted', 30_000);
      expect(done.events.filter((e: any) => e.type === 'operator.abort').map((e: any) => e.detail)).toEqual([
        { actor: 'ops-alice', reason: 'customer cancelled' },
      ]);
      expect(done.error).toBe('abort requested by ops-alice: customer cancelled');
    } finally {
      await other.stop();
    }
  });

  it.each([
    ['saga', Phase.Action],
    ['tcc', Phase.Try],
  ])(
    'a %s whose last answer would decide commit aborts when another instance accepted an abort first',
    async (protocol, forward) => {
      const id = `op-abort-remote-last-${protocol}`;
      const other = new CoordinatorProcess({
        databaseUrl: s.db.url,
        redisUrl: TEST_REDIS_URL,
        redisPrefix: freshRedisPrefix('operator-3'),
        env: { LOG_LEVEL: 'warn', API_KEYS: keys, CALL_TIMEOUT_MS: '10000' },
      });
      try {
        const api = apiClient(await other.start(), { authorization: 'Bearer alice-secret-0123456789' });
        // the only forward call answers yes after 3 s: its answer is the write that decides commit
        s.participant.fault({
          transactionId: id,
          branchId: 'a',
          phase: forward,
          status: 200,
          times: 1,
          delayMs: 3_000,
        });
        const started = await s.api.post('/v1/transactions', {
          id,
          protocol,
          branches: [{ id: 'a', participant: 'p1', payload: {} }],
        });
        expect(started.status).toBe(201);
        const asked = await api.post(`/v1/transactions/${id}/abort`, { reason: 'too late to ship' });
        expect(asked.status).toBe(202); // accepted before any decision: the transaction must abort
        const done = await s.api.until(
          `/v1/transactions/${id}`,
          (t: any) => ['aborted', 'committed'].includes(t.status),
          30_000,
        );
        expect(done.status).toBe('aborted');
        expect(done.events.filter((e: any) => e.type === 'operator.abort').map((e: any) => e.detail)).toEqual([
          { actor: 'ops-alice', reason: 'too late to ship' },
        ]);
        const undo = protocol === 'saga' ? 'compensate' : 'cancel';
        const phases = s.participant.callsFor(id).map((c) => c.body.phase);
        expect(phases).toContain(undo);
        expect(phases).not.toContain('confirm');
      } finally {
        await other.stop();
      }
    },
  );
});
