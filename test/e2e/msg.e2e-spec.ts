import { MSG_CHECK_ID } from '#contracts';
import { startTestStack, type TestStack } from '#testing';

/** A prepared message to consumers `c1`, `c2` on participant p1, checked at p1's `/orders/check`. */
function message(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    protocol: 'msg',
    mode: 'prepared',
    checkAfterMs: 300,
    timeoutMs: 6000,
    retry: { maxAttempts: 4, initialBackoffMs: 100, maxBackoffMs: 200 },
    check: { participant: 'p1', path: '/orders/check' },
    branches: [
      { id: 'c1', participant: 'p1', payload: { sku: 'A' } },
      { id: 'c2', participant: 'p1', payload: { sku: 'A' } },
    ],
    ...extra,
  };
}

describe('reliable messages (protocol msg: coordinator process, real HTTP participant)', () => {
  let s: TestStack;
  let n = 0;
  const fresh = (label: string) => `msg-${label}-${Date.now()}-${++n}`;
  beforeAll(async () => {
    // calls time out after 1.5 s, so a slow check answer (2.5 s) counts as no answer
    s = await startTestStack('msg', { env: { CALL_TIMEOUT_MS: '1500' } });
  });
  afterAll(() => s.close());
  afterEach(() => s.participant.clearFaults());

  const settle = async (id: string, statuses = ['committed', 'aborted', 'failed']) => {
    for (let i = 0; i < 150; i++) {
      const r = await s.api.get(`/v1/transactions/${id}`);
      if (statuses.includes(r.body.status)) return r.body;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${id} did not reach ${statuses.join('/')}`);
  };
  const actions = (id: string) => s.participant.callsFor(id, 'action').map((c) => c.body.branchId);

  it('logs a prepared message without delivering it; submit delivers it in order, exactly once per consumer', async () => {
    const id = fresh('happy');
    s.participant.answerCheck(id, 'rolledback'); // were the check asked, it would abort: it must not be
    const created = await s.api.post('/v1/transactions', message(id, { checkAfterMs: 3000 }));
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('prepared');
    expect(created.body.branches.map((b: any) => b.id)).toEqual(['c1', 'c2']);
    // its creation counts the branches asked for, not the check's own row
    expect(created.body.events[0]).toMatchObject({ type: 'transaction.created', detail: { branches: 2 } });
    expect(created.body.check).toMatchObject({ participant: 'p1', path: '/orders/check', checkAfterMs: 3000 });
    expect(created.body.check.status).toBe('pending');
    expect(created.body.attention).toBe('healthy');
    expect(actions(id)).toEqual([]);
    // nothing waits out a backoff: retry-now does not hurry the check ahead of checkAfterMs
    expect((await s.api.post(`/v1/transactions/${id}/retry`, { reason: 'hurry' })).status).toBe(409);

    const submitted = await s.api.post(`/v1/transactions/${id}/submit?wait=10000`, {});
    expect(submitted.status).toBe(200);
    expect(submitted.body.status).toBe('committed');
    expect(submitted.body.check.status).toBe('skipped');
    expect(actions(id)).toEqual(['c1', 'c2']);
    const first = s.participant.callsFor(id, 'action')[0];
    expect(first.path).toBe('/msg/action');
    expect(first.body).toMatchObject({ protocol: 'msg', phase: 'action', branchId: 'c1', payload: { sku: 'A' } });
    expect(s.participant.callsFor(id, 'check')).toEqual([]);
    // submit is idempotent: again, nothing is delivered twice
    const again = await s.api.post(`/v1/transactions/${id}/submit`, {});
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('committed');
    expect(s.participant.outcome(id, 'c1').applied).toBe(1);
    expect(s.participant.outcome(id, 'c2').applied).toBe(1);
    const types = submitted.body.events.map((e: any) => e.type);
    expect(types.slice(0, 3)).toEqual(['transaction.created', 'transaction.prepared', 'transaction.running']);
  });

  it('not submitted: the check answered committed delivers the message', async () => {
    const id = fresh('check-commit');
    s.participant.answerCheck(id, 'committed');
    await s.api.post('/v1/transactions', message(id));
    const done = await settle(id);
    expect(done.status).toBe('committed');
    const checks = s.participant.callsFor(id, 'check');
    expect(checks).toHaveLength(1);
    expect(checks[0].path).toBe('/orders/check');
    expect(checks[0].body).toMatchObject({ transactionId: id, protocol: 'msg', phase: 'check' });
    expect('branchId' in checks[0].body).toBe(false);
    expect(checks[0].headers['idempotency-key']).toBe(`${id}/check`);
    expect(done.check).toMatchObject({ status: 'succeeded', answer: { state: 'committed' } });
    expect(actions(id)).toEqual(['c1', 'c2']);
  });

  it('not submitted: the check answered rolledback aborts it, and no consumer ever sees it', async () => {
    const id = fresh('check-rollback');
    s.participant.answerCheck(id, 'rolledback');
    await s.api.post('/v1/transactions', message(id));
    const done = await settle(id);
    expect(done.status).toBe('aborted');
    expect(done.error).toMatch(/rolled back/);
    expect(actions(id)).toEqual([]);
    // the sender's late submit is refused: its commit lost the race to the check
    const late = await s.api.post(`/v1/transactions/${id}/submit`, {});
    expect(late.status).toBe(409);
    expect(late.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(late.body.detail).toMatch(/aborted/);
  });

  it('check endpoint down, then pending, then slow: asked again with backoff, and only its real answer decides', async () => {
    const id = fresh('check-flaky');
    s.participant.fault({ transactionId: id, phase: 'check', status: 503, times: 2 });
    await s.api.post('/v1/transactions', message(id));
    // three asks: 503, 503, then pending
    for (let i = 0; i < 100 && s.participant.callsFor(id, 'check').length < 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const pending = await s.api.get(`/v1/transactions/${id}`);
    expect(pending.body.status).toBe('prepared');
    expect(actions(id)).toEqual([]);
    s.participant.answerCheck(id, 'committed');
    const done = await settle(id);
    expect(done.status).toBe('committed');
    expect(s.participant.callsFor(id, 'check').length).toBeGreaterThanOrEqual(4);
    expect(done.check.lastError).not.toBeNull();
  });

  it('counts a check answered "pending" as an answer, not as a failing call, in /v1/stats and the registry', async () => {
    const id = fresh('check-pending-stats');
    expect((await s.api.post('/v1/participants', { name: 'sender-pending', url: s.participant.url })).status).toBe(201);
    s.participant.answerCheck(id, 'pending');
    await s.api.post(
      '/v1/transactions',
      message(id, { check: { participant: 'sender-pending', path: '/orders/check' } }),
    );
    for (let i = 0; i < 100 && s.participant.callsFor(id, 'check').length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(s.participant.callsFor(id, 'check').length).toBeGreaterThanOrEqual(2);
    const stats = await s.api.get('/v1/stats');
    expect(stats.body.failingParticipants.map((p: any) => p.participant)).not.toContain('sender-pending');
    const sender = (await s.api.get('/v1/participants/sender-pending')).body;
    expect([sender.errorRate, sender.lastError]).toEqual([0, null]);
    s.participant.answerCheck(id, 'committed');
    expect((await settle(id)).status).toBe('committed');
  });

  it('a slow check is waited for and asked again; it never decides without the sender', async () => {
    const id = fresh('check-slow');
    s.participant.answerCheck(id, 'committed');
    // the first answer arrives after the coordinator's call timeout (CALL_TIMEOUT_MS): unknown, asked again
    s.participant.fault({ transactionId: id, phase: 'check', status: 200, times: 1, when: 'after', delayMs: 2500 });
    await s.api.post('/v1/transactions', message(id, { timeoutMs: 20000 }));
    const done = await settle(id);
    expect(done.status).toBe('committed');
    expect(s.participant.outcome(id, 'c1').applied).toBe(1);
  });

  it('a check in flight at the deadline is waited for: its committed answer still delivers the message', async () => {
    const id = fresh('check-at-deadline');
    s.participant.answerCheck(id, 'committed');
    // asked at +300 ms, answered at ~+1,300: past the 1,000 ms deadline, within the call timeout (1.5 s)
    s.participant.fault({ transactionId: id, phase: 'check', status: 200, times: 1, when: 'after', delayMs: 1000 });
    await s.api.post('/v1/transactions', message(id, { timeoutMs: 1000 }));
    const done = await settle(id);
    expect(done.status).toBe('committed');
    expect(s.participant.callsFor(id, 'check')).toHaveLength(1);
    expect(s.participant.outcome(id, 'c1').applied).toBe(1);
    expect(s.participant.outcome(id, 'c2').applied).toBe(1);
  });

  it('a submitted message has no deadline: a delivery answering after it is waited for (the call timeout)', async () => {
    const id = fresh('slow-consumer');
    // every delivery to c1 answers after 1 s, past the message's 300 ms deadline
    s.participant.fault({
      transactionId: id,
      branchId: 'c1',
      phase: 'action',
      status: 200,
      times: 10,
      when: 'after',
      delayMs: 1000,
    });
    const r = await s.api.post('/v1/transactions?wait=15000', {
      id,
      protocol: 'msg',
      timeoutMs: 300,
      retry: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 200 },
      branches: [{ id: 'c1', participant: 'p1' }],
    });
    expect(r.body.status).toBe('committed');
    const calls = s.participant.callsFor(id, 'action');
    expect(calls).toHaveLength(1);
    // the delivery's own deadline is its call timeout's end, not the message's past one
    expect(Date.parse(calls[0].body.deadline!)).toBeGreaterThan(Date.parse(r.body.createdAt) + 1000);
  });

  it('the sender committed after the last ask and before the deadline: asked once more then, and delivered', async () => {
    const id = fresh('commit-late');
    // asked at +300 ms (pending); the next ask's backoff (10 s) is capped at the 3 s deadline
    await s.api.post(
      '/v1/transactions',
      message(id, { timeoutMs: 3000, retry: { maxAttempts: 4, initialBackoffMs: 10_000, maxBackoffMs: 10_000 } }),
    );
    for (let i = 0; i < 100 && s.participant.callsFor(id, 'check').length < 1; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    s.participant.answerCheck(id, 'committed'); // the sender's commit, before its deadline
    const done = await settle(id);
    expect(done.status).toBe('committed');
    expect(s.participant.callsFor(id, 'check')).toHaveLength(2);
    expect(actions(id).sort()).toEqual(['c1', 'c2']);
  });

  it('no answer until the deadline: aborted, nothing delivered', async () => {
    const id = fresh('deadline');
    s.participant.answerCheck(id, 'pending');
    await s.api.post('/v1/transactions', message(id, { timeoutMs: 1500 }));
    const done = await settle(id);
    expect(done.status).toBe('aborted');
    expect(done.error).toMatch(/deadline/);
    expect(s.participant.callsFor(id, 'check').length).toBeGreaterThanOrEqual(1);
    expect(actions(id)).toEqual([]);
  });

  it("retries a consumer's transient failures; a consumer's no parks it failed, and replay delivers it", async () => {
    const id = fresh('consumer');
    s.participant.fault({ transactionId: id, branchId: 'c1', phase: 'action', status: 503, times: 2 });
    s.participant.fault({ transactionId: id, branchId: 'c2', phase: 'action', status: 409, times: 1 });
    await s.api.post('/v1/transactions', message(id));
    const submitted = await s.api.post(`/v1/transactions/${id}/submit?wait=10000`, {});
    expect(submitted.body.status).toBe('failed');
    expect(submitted.body.error).toMatch(/c2 refused/);
    expect(submitted.body.branches.map((b: any) => b.status)).toEqual(['succeeded', 'rejected']);
    expect(s.participant.callsFor(id, 'action').filter((c) => c.body.branchId === 'c1')).toHaveLength(3);
    // a message is past its decision: it cannot be aborted, only replayed
    expect((await s.api.post(`/v1/transactions/${id}/abort`, {})).status).toBe(409);
    const replayed = await s.api.post(`/v1/transactions/${id}/replay`, { reason: 'stock fixed' });
    expect(replayed.status).toBe(202);
    const done = await settle(id, ['committed']);
    expect(done.branches.map((b: any) => b.status)).toEqual(['succeeded', 'succeeded']);
    expect(s.participant.outcome(id, 'c1').applied).toBe(1);
    expect(s.participant.outcome(id, 'c2').applied).toBe(1);
  });

  it('driven mode delivers at once, as a dependsOn DAG', async () => {
    const id = fresh('driven');
    const r = await s.api.post('/v1/transactions?wait=10000', {
      id,
      protocol: 'msg',
      branches: [
        { id: 'stock', participant: 'p1' },
        { id: 'ship', participant: 'p1' },
        { id: 'notify', participant: 'p1', dependsOn: ['stock', 'ship'] },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('committed');
    expect(r.body.check).toBeUndefined();
    expect(actions(id).slice(-1)).toEqual(['notify']);
  });

  it('a prepared message can be aborted before its decision', async () => {
    const id = fresh('abort');
    await s.api.post('/v1/transactions', message(id, { checkAfterMs: 3000 }));
    const r = await s.api.post(`/v1/transactions/${id}/abort`, { reason: 'order cancelled' });
    expect(r.status).toBe(202);
    const done = await settle(id);
    expect(done.status).toBe('aborted');
    expect((await s.api.post(`/v1/transactions/${id}/submit`, {})).status).toBe(409);
    expect(actions(id)).toEqual([]);
  });

  it('lists messages by protocol and status like any transaction', async () => {
    const id = fresh('listed');
    await s.api.post('/v1/transactions', message(id, { checkAfterMs: 4000 }));
    const page = await s.api.get('/v1/transactions?protocol=msg&status=prepared');
    expect(page.status).toBe(200);
    expect(page.body.items.map((t: any) => t.id)).toContain(id);
    expect(page.body.items.every((t: any) => t.protocol === 'msg' && t.status === 'prepared')).toBe(true);
    const healthy = await s.api.get('/v1/transactions?protocol=msg&attention=healthy');
    expect(healthy.body.items.map((t: any) => t.id)).toContain(id);
    const stats = await s.api.get('/v1/stats');
    expect(stats.status).toBe(200);
    expect(JSON.stringify(stats.body)).toContain('prepared');
    await s.api.post(`/v1/transactions/${id}/abort`, {});
  });

  it('refuses bad message requests naming the field and the rule, writing nothing', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ check: undefined }, 'check'],
      [{ mode: 'interactive', branches: [] }, 'mode'],
      [{ checkAfterMs: 50 }, 'checkAfterMs'],
      [{ checkAfterMs: 7000 }, 'checkAfterMs'],
      [{ check: { participant: 'nobody', path: '/c' } }, 'check.participant'],
      [{ check: { participant: 'p1', path: 'no-slash' } }, 'check.path'],
      [{ branches: [{ id: 'x', participant: 'p1', paths: { compensate: '/undo' } }] }, 'branches.0.paths.compensate'],
    ];
    for (const [patch, field] of cases) {
      const id = fresh('bad');
      const r = await s.api.post('/v1/transactions', { ...message(id), ...patch });
      expect(r.status).toBe(422);
      expect(r.body.errors.map((e: any) => e.field)).toContain(field);
      expect((await s.api.get(`/v1/transactions/${id}`)).status).toBe(404);
    }
    const saga = await s.api.post('/v1/transactions', {
      protocol: 'saga',
      mode: 'prepared',
      checkAfterMs: 1000,
      branches: [{ id: 'a', participant: 'p1' }],
    });
    expect(saga.status).toBe(422);
    expect(saga.body.errors.map((e: any) => e.field)).toEqual(expect.arrayContaining(['mode', 'checkAfterMs']));
    const notMsg = await s.api.post('/v1/transactions?wait=5000', {
      protocol: 'saga',
      branches: [{ id: 'a', participant: 'p1' }],
    });
    expect((await s.api.post(`/v1/transactions/${notMsg.body.id}/submit`, {})).status).toBe(409);
    expect((await s.api.post(`/v1/transactions/nope-${Date.now()}/submit`, {})).status).toBe(404);
  });

  it('keeps the check row out of the branches but its calls in the attempts', async () => {
    const id = fresh('view');
    s.participant.answerCheck(id, 'committed');
    await s.api.post('/v1/transactions', message(id));
    const done = await settle(id);
    expect(done.branches.some((b: any) => b.id === MSG_CHECK_ID)).toBe(false);
    expect(done.attempts.some((a: any) => a.branchId === MSG_CHECK_ID && a.phase === 'check')).toBe(true);
  });
});
