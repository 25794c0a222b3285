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
 * A keyed branch registration whose coordinator dies mid-call: its key stays claimed by a process
 * that is gone. The restarted coordinator presumes the transaction aborted; a repeat of the
 * registration with the same key is answered from the log as soon as it says so, not after 30 s of
 * waiting (a 409 `idempotency_key_in_flight` the client SDK's 30 s try timeout never even saw).
 */
describe('a keyed registration repeated after its coordinator died', () => {
  let db: FreshDatabase;
  let participant: TestParticipant;
  let first: CoordinatorProcess;
  let second: CoordinatorProcess;
  const prefix = freshRedisPrefix('reg_crash');

  beforeAll(async () => {
    db = await freshDatabase('reg_crash');
    participant = await TestParticipant.start();
    first = new CoordinatorProcess({ databaseUrl: db.url, redisUrl: TEST_REDIS_URL, redisPrefix: prefix });
    second = new CoordinatorProcess({ databaseUrl: db.url, redisUrl: TEST_REDIS_URL, redisPrefix: prefix });
  });
  afterAll(async () => {
    await first?.kill();
    await second?.stop();
    await participant?.close();
    await db?.drop();
  });

  it('is answered as the log has it: the branch, abandoned by the abort, did not say yes', async () => {
    const api = apiClient(await first.start());
    expect((await api.post('/v1/participants', { name: 'p1', url: participant.url })).status).toBe(201);
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
