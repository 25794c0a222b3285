import { sagaBody, startTestStack, type TestStack } from '#testing';

describe('saga (coordinator process, Redis, real HTTP participant)', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack('saga');
  });
  afterAll(() => s.close());
  afterEach(() => s.participant.clearFaults());

  it('commits a sequential saga, calling each action once in order', async () => {
    const r = await s.api.post('/v1/transactions?wait=10000', sagaBody(['a', 'b', 'c']));
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('committed');
    expect(r.body.branches.map((b: any) => b.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const calls = s.participant.callsFor(r.body.id);
    expect(calls.map((c) => `${c.body.branchId}:${c.body.phase}`)).toEqual(['a:action', 'b:action', 'c:action']);
    expect(calls[0].path).toBe('/saga/action');
    expect(calls[0].headers['idempotency-key']).toBe(`${r.body.id}/a/action`);
    expect(calls[0].body.payload).toEqual({ n: 'a' });
    expect(r.body.branches[0].result).toEqual({ ok: true, branch: 'a', phase: 'action' });
    // the answer to ?wait (built from the driver's memory) is exactly what the log holds
    expect((await s.api.get(`/v1/transactions/${r.body.id}`)).body).toEqual(r.body);
    // the timeline announces every call before its answer
    const types = r.body.events.map((e: any) => `${e.type}${e.branchId ? `:${e.branchId}` : ''}`);
    expect(types).toEqual([
      'transaction.created',
      'transaction.running',
      'call.started:a',
      'call.finished:a',
      'call.started:b',
      'call.finished:b',
      'call.started:c',
      'call.finished:c',
      'transaction.committed',
    ]);
  });

  it('aborts on a 409 and compensates the done branches in reverse order', async () => {
    const id = `abort-${Date.now()}`;
    s.participant.fault({ transactionId: id, branchId: 'c', phase: 'action', status: 409, times: 1 });
    const r = await s.api.post('/v1/transactions?wait=10000', { id, ...sagaBody(['a', 'b', 'c', 'd']) });
    expect(r.body.status).toBe('aborted');
    expect(r.body.error).toMatch(/branch c rejected/);
    expect(r.body.branches.map((b: any) => `${b.status}/${b.phase}`)).toEqual([
      'completed/compensate',
      'completed/compensate',
      'rejected/action',
      'skipped/action',
    ]);
    expect(s.participant.callsFor(id, 'compensate').map((c) => c.body.branchId)).toEqual(['b', 'a']);
    expect(s.participant.effects(id, 'a')).toEqual({ applied: 1, compensated: 1 });
    expect(s.participant.callsFor(id).some((c) => c.body.branchId === 'd')).toBe(false);
  });

  it("records the participant's own reason for a no and for a failure, not only the HTTP status", async () => {
    const id = `reason-${Date.now()}`;
    s.participant.fault({
      transactionId: id,
      branchId: 'a',
      phase: 'action',
      status: 503,
      times: 1,
      body: { error: 'ledger locked' },
    });
    s.participant.fault({
      transactionId: id,
      branchId: 'b',
      phase: 'action',
      status: 409,
      times: 1,
      body: { type: 'about:blank', title: 'Conflict', status: 409, detail: 'insufficient funds on A' },
    });
    const r = await s.api.post('/v1/transactions?wait=10000', {
      id,
      ...sagaBody(['a', 'b']),
      retry: { maxAttempts: 3, initialBackoffMs: 50, maxBackoffMs: 100 },
    });
    expect(r.body.status).toBe('aborted');
    const errors = r.body.attempts.map((a: any) => `${a.branchId}/${a.phase}: ${a.error}`);
    expect(errors).toContain('a/action: HTTP 503: ledger locked');
    expect(errors).toContain('b/action: HTTP 409: insufficient funds on A');
  });

  it('runs independent DAG branches in parallel and joins them', async () => {
    const id = `dag-${Date.now()}`;
    s.participant.fault({ transactionId: id, branchId: 'left', status: 200, times: 1, when: 'after', delayMs: 400 });
    s.participant.fault({ transactionId: id, branchId: 'right', status: 200, times: 1, when: 'after', delayMs: 400 });
    const r = await s.api.post('/v1/transactions?wait=10000', {
      id,
      protocol: 'saga',
      branches: [
        { id: 'root', participant: 'p1' },
        { id: 'left', participant: 'p1', dependsOn: ['root'] },
        { id: 'right', participant: 'p1', dependsOn: ['root'] },
        { id: 'join', participant: 'p1', dependsOn: ['left', 'right'] },
      ],
    });
    expect(r.body.status).toBe('committed');
    const call = (b: string) => s.participant.callsFor(id).find((c) => c.body.branchId === b)!;
    // both arms were in flight at the same time; the join came after both answered
    expect(call('right').receivedAt).toBeLessThan(call('left').answeredAt!);
    expect(call('left').receivedAt).toBeLessThan(call('right').answeredAt!);
    expect(call('join').receivedAt).toBeGreaterThanOrEqual(
      Math.max(call('left').answeredAt!, call('right').answeredAt!),
    );
  });

  it('compensates a DAG in reverse dependency order', async () => {
    const id = `dag-abort-${Date.now()}`;
    s.participant.fault({ transactionId: id, branchId: 'join', phase: 'action', status: 422, times: 1 });
    const r = await s.api.post('/v1/transactions?wait=10000', {
      id,
      protocol: 'saga',
      branches: [
        { id: 'root', participant: 'p1' },
        { id: 'left', participant: 'p1', dependsOn: ['root'] },
        { id: 'right', participant: 'p1', dependsOn: ['root'], paths: { compensate: null } },
        { id: 'join', participant: 'p1', dependsOn: ['left', 'right'] },
      ],
    });
    expect(r.body.status).toBe('aborted');
    const order = s.participant.callsFor(id, 'compensate').map((c) => c.body.branchId);
    expect(order).toEqual(['left', 'root']); // right maps compensate to null: skipped
    expect(r.body.branches.find((b: any) => b.id === 'right').status).toBe('skipped');
  });

  it('retries unknown outcomes with backoff until the participant answers', async () => {
    const id = `retry-${Date.now()}`;
    s.participant.fault({ transactionId: id, branchId: 'b', status: 503, times: 2 });
    const r = await s.api.post('/v1/transactions?wait=15000', {
      id,
      ...sagaBody(['a', 'b']),
      retry: { maxAttempts: 5, initialBackoffMs: 100, maxBackoffMs: 400 },
    });
    expect(r.body.status).toBe('committed');
    const attempts = r.body.attempts.filter((a: any) => a.branchId === 'b');
    expect(attempts.map((a: any) => [a.attempt, a.outcome, a.httpStatus])).toEqual([
      [1, 'unknown', 503],
      [2, 'unknown', 503],
      [3, 'yes', 200],
    ]);
    expect(r.body.events.filter((e: any) => e.type === 'retry.scheduled')).toHaveLength(2);
    expect(s.participant.effects(id, 'b').applied).toBe(1);
  });

  it("shows a participant's recent error rate in the registry", async () => {
    const p = await s.api.get('/v1/participants/p1');
    expect(p.status).toBe(200);
    // the retry test above got two 503s among its calls
    expect(p.body.errorRate).toBeGreaterThan(0);
    expect(p.body.errorRate).toBeLessThan(1);
    expect(p.body.lastError).toBe('HTTP 503');
    expect(p.body).toMatchObject({ name: 'p1', status: 'up', circuit: 'closed', hasSecret: false });
  });

  it('treats an action that exhausts its attempts as no and compensates it', async () => {
    const id = `exhaust-${Date.now()}`;
    s.participant.fault({ transactionId: id, branchId: 'b', phase: 'action', status: 500, times: 2, when: 'after' });
    const r = await s.api.post('/v1/transactions?wait=15000', {
      id,
      ...sagaBody(['a', 'b']),
      retry: { maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 100 },
    });
    expect(r.body.status).toBe('aborted');
    expect(r.body.branches[1]).toMatchObject({ status: 'completed', phase: 'compensate' });
    // the action did land (its replies were lost): it is compensated, exactly once
    expect(s.participant.effects(id, 'b')).toEqual({ applied: 1, compensated: 1 });
  });

  it('parks a saga as failed when a compensation exhausts its budget; replay finishes it', async () => {
    const id = `park-${Date.now()}`;
    s.participant.fault({ transactionId: id, branchId: 'b', phase: 'action', status: 409, times: 1 });
    s.participant.fault({ transactionId: id, branchId: 'a', phase: 'compensate', status: 500, times: 2 });
    const r = await s.api.post('/v1/transactions?wait=15000', {
      id,
      ...sagaBody(['a', 'b']),
      retry: { maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 100 },
    });
    expect(r.body.status).toBe('failed');
    expect(r.body.error).toMatch(/compensation not acknowledged after 2 attempts/);
    // decided (abort) and parked: an abort cannot move it on, a replay does
    expect((await s.api.post(`/v1/transactions/${id}/abort`)).status).toBe(409);
    const listed = await s.api.get(`/v1/transactions?status=failed`);
    expect(listed.body.items.map((t: any) => t.id)).toContain(id);

    const replay = await s.api.post(`/v1/transactions/${id}/replay`);
    expect(replay.status).toBe(202);
    const done = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'aborted');
    expect(done.events.map((e: any) => e.type)).toContain('transaction.replayed');
    expect(s.participant.effects(id, 'a')).toEqual({ applied: 1, compensated: 1 });
    expect((await s.api.post(`/v1/transactions/${id}/replay`)).status).toBe(409);
  });

  it('answers ?wait (even 0) with 202 + Location when the saga is still running, a repeat too, and 201 without wait', async () => {
    const id = `wait-${Date.now()}`;
    s.participant.fault({ transactionId: id, branchId: 'a', status: 200, times: 1, when: 'after', delayMs: 800 });
    const r = await s.api.post('/v1/transactions?wait=100', { id, ...sagaBody(['a']) });
    expect(r.status).toBe(202);
    expect(r.headers.get('location')).toBe(`/v1/transactions/${id}`);
    expect(r.body.status).toBe('running');
    // a repeat of the same id and body that asks to wait waits too: 200 once settled
    const repeat = await s.api.post('/v1/transactions?wait=10000', { id, ...sagaBody(['a']) });
    expect([repeat.status, repeat.body.status]).toEqual([200, 'committed']);

    // wait=0 is a wait that ran out at once: 202, not the 201 of a start that did not ask to wait
    const zero = `wait0-${Date.now()}`;
    s.participant.fault({ transactionId: zero, branchId: 'a', status: 200, times: 1, when: 'after', delayMs: 800 });
    const atOnce = await s.api.post('/v1/transactions?wait=0', { id: zero, ...sagaBody(['a']) });
    expect([atOnce.status, atOnce.body.status]).toEqual([202, 'running']);
    expect(atOnce.headers.get('location')).toBe(`/v1/transactions/${zero}`);
    const again = await s.api.post('/v1/transactions?wait=0', { id: zero, ...sagaBody(['a']) });
    expect([again.status, again.body.status]).toEqual([202, 'running']);
    await s.api.until(`/v1/transactions/${zero}`, (t: any) => t.status === 'committed');
    expect((await s.api.post('/v1/transactions?wait=', sagaBody(['x']))).status).toBe(422);

    const started = await s.api.post('/v1/transactions', sagaBody(['x']));
    expect(started.status).toBe(201);
    expect(started.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(started.headers.get('location')).toBe(`/v1/transactions/${started.body.id}`);
    // every field of each event, null when empty, as a read of it later says (`detail` was left out)
    for (const e of started.body.events) {
      expect(Object.keys(e).sort()).toEqual(['at', 'attempt', 'branchId', 'detail', 'outcome', 'phase', 'seq', 'type']);
    }
  });

  it('aborts a running saga on request and refuses to abort a committed one', async () => {
    const id = `user-abort-${Date.now()}`;
    s.participant.fault({ transactionId: id, branchId: 'b', status: 200, times: 1, when: 'after', delayMs: 500 });
    await s.api.post('/v1/transactions', { id, ...sagaBody(['a', 'b', 'c']) });
    await s.api.until(`/v1/transactions/${id}`, (t: any) => t.branches[1].status === 'running');
    const aborted = await s.api.post(`/v1/transactions/${id}/abort`);
    expect(aborted.status).toBe(202);
    const done = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'aborted');
    // b was in flight at the abort: the saga waited for its answer (yes) and compensated it
    expect(done.branches.map((b: any) => b.status)).toEqual(['completed', 'completed', 'skipped']);
    expect(s.participant.callsFor(id).some((c) => c.body.branchId === 'c')).toBe(false);

    const committed = await s.api.post('/v1/transactions?wait=5000', sagaBody(['z']));
    expect((await s.api.post(`/v1/transactions/${committed.body.id}/abort`)).status).toBe(409);
    expect((await s.api.post(`/v1/transactions/nope/abort`)).status).toBe(404);
  });

  it('aborts a saga that runs past its timeout', async () => {
    const id = `timeout-${Date.now()}`;
    s.participant.fault({ transactionId: id, branchId: 'b', phase: 'action', status: 503, times: 100 });
    const r = await s.api.post('/v1/transactions?wait=15000', {
      id,
      ...sagaBody(['a', 'b']),
      timeoutMs: 800,
      retry: { maxAttempts: 100, initialBackoffMs: 100, maxBackoffMs: 200 },
    });
    expect(r.body.status).toBe('aborted');
    expect(r.body.error).toBe('transaction timed out');
    expect(s.participant.effects(id, 'a')).toEqual({ applied: 1, compensated: 1 });
    // b's action never got an answer: it may have landed, so it is compensated too, before a
    expect(s.participant.callsFor(id, 'compensate').map((c) => c.body.branchId)).toEqual(['b', 'a']);
  });

  it('lists with filters and keyset pagination, newest first', async () => {
    const tag = `page-${Date.now()}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await s.api.post('/v1/transactions?wait=5000', { id: `${tag}-${i}`, ...sagaBody(['a']) });
      ids.push(r.body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await s.api.get(`/v1/transactions?q=${tag}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((t: any) => t.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    const filtered = await s.api.get(`/v1/transactions?status=committed&protocol=saga&participant=p1&q=${tag}`);
    expect(filtered.body.items).toHaveLength(5);
    expect((await s.api.get(`/v1/transactions?status=aborted&q=${tag}`)).body.items).toHaveLength(0);
    expect((await s.api.get(`/v1/transactions?participant=other&q=${tag}`)).body.items).toHaveLength(0);
    const bad = await s.api.get('/v1/transactions?status=nope');
    expect(bad.status).toBe(422);
    expect(bad.body.errors[0].field).toBe('status');
    expect((await s.api.get('/v1/transactions?cursor=garbage')).status).toBe(422);
  });

  it('finds a transaction by its Idempotency-Key, as long as a key may be (255), and no longer', async () => {
    const key = `k${Date.now()}`.padEnd(255, 'x');
    const started = await s.api.post('/v1/transactions?wait=5000', sagaBody(['a']), { 'idempotency-key': key });
    expect(started.status).toBe(200);
    const found = await s.api.get(`/v1/transactions?q=${key}`);
    expect([found.status, found.body.items.map((t: any) => t.id)]).toEqual([200, [started.body.id]]);
    const tooLong = await s.api.get(`/v1/transactions?q=${key}y`);
    expect([tooLong.status, tooLong.body.errors[0].field]).toEqual([422, 'q']);
  });

  it('finds a transaction by the Idempotency-Key of a start answered with it (its id was taken first)', async () => {
    const id = `by-key-${Date.now()}`;
    expect((await s.api.post('/v1/transactions?wait=5000', { id, ...sagaBody(['a']) })).status).toBe(200);
    const key = `late-key-${Date.now()}`;
    const again = await s.api.post('/v1/transactions', { id, ...sagaBody(['a']) }, { 'idempotency-key': key });
    expect([again.status, again.body.id]).toEqual([200, id]);
    const found = await s.api.get(`/v1/transactions?q=${key}`);
    expect(found.body.items.map((t: any) => t.id)).toEqual([id]);
    // a key whose answer is a refusal names no transaction
    const other = await s.api.post('/v1/transactions', { id, ...sagaBody(['b']) }, { 'idempotency-key': `${key}-2` });
    expect(other.status).toBe(409);
    expect((await s.api.get(`/v1/transactions?q=${key}-2`)).body.items).toEqual([]);
  });
});
