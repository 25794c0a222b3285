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

/**
 * A keyed request whose coordinator was killed before it answered: its key stays claimed by a
 * process that is gone. A repeat of the request on the restarted coordinator is answered at once
 * from the log (a start, a branch registration the log has decided) or run again (a commit),
 * because the key names the process that claimed it and that process is known to be dead: not
 * after the two minutes a claim of a live process may take, during which every repeat waited 30 s
 * and got 409 `idempotency_key_in_flight`.
 */
describe('a keyed request repeated after its coordinator died', () => {
  let db: FreshDatabase;
  let participant: TestParticipant;
  const started: CoordinatorProcess[] = [];
  const prefix = freshRedisPrefix('keyed_crash');
  /** Two coordinators on the test's log: the first is killed mid-request, the second takes over. */
  const pair = () => {
    const make = () => new CoordinatorProcess({ databaseUrl: db.url, redisUrl: TEST_REDIS_URL, redisPrefix: prefix });
    const [first, second] = [make(), make()];
    started.push(first, second);
    return { first, second };
  };
  // the kill lands while the hanging calls are in flight, however slow the machine (no failover to a retry first)
  const env = { CALL_TIMEOUT_MS: '60000', LOG_LEVEL: 'warn' };

  beforeAll(async () => {
    db = await freshDatabase('keyed_crash');
    participant = await TestParticipant.start();
  });
  afterEach(async () => {
    for (const c of started.splice(0)) await c.stop();
  });
  afterAll(async () => {
    await participant?.close();
    await db?.drop();
  });

  it('a start waiting for its saga, and an interactive commit, are answered by the restarted coordinator', async () => {
    const { first, second } = pair();
    const api = apiClient(await first.start(env));
    expect((await api.post('/v1/participants', { name: 'p1', url: participant.url })).status).toBe(201);

    // a start with a wait, no id (the coordinator picks it) and a key: its first action hangs until the kill
    const tag = `keyed-crash-${Date.now()}`;
    const start = {
      protocol: 'saga',
      branches: [
        { id: 'a', participant: 'p1', payload: { tag } },
        { id: 'b', participant: 'p1', payload: { tag } },
      ],
    };
    participant.fault({ branchId: 'a', phase: 'action', status: 503, times: 1, delayMs: 30_000 });
    const startKey = `start-${tag}`;
    void api.post('/v1/transactions?wait=25000', start, { 'idempotency-key': startKey }).catch(() => undefined);

    // an interactive TCC whose keyed commit is in flight at the kill (its confirm hangs)
    const tcc = `${tag}-tcc`;
    expect((await api.post('/v1/transactions', { id: tcc, protocol: 'tcc', mode: 'interactive' })).status).toBe(201);
    expect((await api.post(`/v1/transactions/${tcc}/branches`, { id: 'x', participant: 'p1' })).status).toBe(200);
    participant.fault({ transactionId: tcc, branchId: 'x', phase: 'confirm', status: 503, times: 1, delayMs: 30_000 });
    const commitKey = `commit-${tag}`;
    void api
      .post(`/v1/transactions/${tcc}/commit?wait=25000`, {}, { 'idempotency-key': commitKey })
      .catch(() => undefined);

    await until(
      async () =>
        participant.calls.some((c) => c.body.branchId === 'a' && c.body.phase === 'action') &&
        participant.callsFor(tcc, 'confirm').length > 0,
      10_000,
    );
    await first.kill();

    const again = apiClient(await second.start(env));
    const repeat = await again.post('/v1/transactions?wait=25000', start, { 'idempotency-key': startKey });
    expect({ status: repeat.status, state: repeat.body.status }).toEqual({ status: 200, state: 'committed' });
    // the first request's transaction, not a second one
    const listed = await again.get('/v1/transactions?protocol=saga');
    expect(listed.body.items.map((t: any) => t.id)).toEqual([repeat.body.id]);
    expect(participant.effects(repeat.body.id, 'a')).toEqual({ applied: 1, compensated: 0 });

    const commit = await again.post(`/v1/transactions/${tcc}/commit?wait=25000`, {}, { 'idempotency-key': commitKey });
    expect({ status: commit.status, state: commit.body.status }).toEqual({ status: 200, state: 'committed' });

    // those answers are now the keys': a later repeat gets each back as it was
    const later = await again.post('/v1/transactions', start, { 'idempotency-key': startKey });
    expect({ status: later.status, id: later.body.id, replayed: later.headers.get('idempotent-replayed') }).toEqual({
      status: 200,
      id: repeat.body.id,
      replayed: 'true',
    });
  });

  it('a registration is answered as the log has it: the branch, abandoned by the abort, did not say yes', async () => {
    const { first, second } = pair();
    const api = apiClient(await first.start());
    // registered by the test before: updated
    expect((await api.post('/v1/participants', { name: 'p1', url: participant.url })).status).toBe(200);
    const id = `reg-crash-${Date.now()}`;
    expect(
      (await api.post('/v1/transactions', { id, protocol: 'tcc', mode: 'interactive', timeoutMs: 60_000 })).status,
    ).toBe(201);
    participant.fault({
      transactionId: id,
      branchId: 'a',
      phase: 'try',
      status: 200,
      times: 1,
      when: 'after',
      delayMs: 30_000,
    });
    const key = `reg-${id}`;
    const branch = { id: 'a', participant: 'p1', payload: {} };
    void api.post(`/v1/transactions/${id}/branches`, branch, { 'idempotency-key': key }).catch(() => undefined);
    await until(async () => participant.callsFor(id).length > 0, 10_000);
    await first.kill();

    const again = apiClient(await second.start());
    // the restarted coordinator takes the orphan over: presumed abort before the decision
    await again.until(`/v1/transactions/${id}`, (t: any) => t.status === 'aborted', 20_000);
    const repeat = await again.post(`/v1/transactions/${id}/branches`, branch, { 'idempotency-key': key });
    expect({ status: repeat.status, type: repeat.body.type }).toEqual({
      status: 409,
      type: '/problems/branch_rejected',
    });
    // answered from the log, not with 409 idempotency_key_in_flight after waiting for an answer that never comes
    expect(repeat.body.detail).toMatch(/did not say yes/);
    // that answer is now the key's: every later repeat gets it back as it was
    const later = await again.post(`/v1/transactions/${id}/branches`, branch, { 'idempotency-key': key });
    expect({ status: later.status, body: later.body, replayed: later.headers.get('idempotent-replayed') }).toEqual({
      status: 409,
      body: repeat.body,
      replayed: 'true',
    });
  });
});
