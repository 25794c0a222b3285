import { Client } from 'pg';
import type { Phase } from '#contracts';
import { startTestStack, type TestStack } from '#testing';

/** TCC, 2PC and 3PC in driven mode: one API, one log, the same guarantees. */
const PROTOCOLS: { protocol: string; forward: Phase[]; commit: Phase; undo: Phase }[] = [
  { protocol: 'tcc', forward: ['try'], commit: 'confirm', undo: 'cancel' },
  { protocol: '2pc', forward: ['prepare'], commit: 'commit', undo: 'rollback' },
  { protocol: '3pc', forward: ['can-commit', 'pre-commit'], commit: 'do-commit', undo: 'abort' },
];

describe.each(PROTOCOLS)('$protocol (driven)', ({ protocol, forward, commit, undo }) => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack(protocol.replace(/\W/g, ''));
  });
  afterAll(() => s.close());

  const body = (id: string, extra: Record<string, unknown> = {}) => ({
    id,
    protocol,
    branches: ['a', 'b', 'c'].map((b) => ({ id: b, participant: 'p1', payload: { n: b } })),
    ...extra,
  });
  const phasesOf = (id: string, branch: string) =>
    s.participant
      .callsFor(id)
      .filter((c) => c.body.branchId === branch)
      .map((c) => c.body.phase);
  const fresh = (tag: string) => `${protocol}-${tag}-${Date.now()}`;

  it('commits when every branch votes yes', async () => {
    const id = fresh('yes');
    const r = await s.api.post('/v1/transactions?wait=10000', body(id));
    expect(r.body.status).toBe('committed');
    for (const b of ['a', 'b', 'c']) {
      expect(phasesOf(id, b)).toEqual([...forward, commit]);
      expect(s.participant.outcome(id, b)).toEqual({ applied: 1, committed: 1, undone: 0 });
    }
    expect(s.participant.callsFor(id)[0].path).toBe(`/${protocol}/${forward[0]}`);
    const types = r.body.events.map((e: any) => e.type);
    // the decision is in the log before any phase-two call
    expect(types.indexOf('transaction.committing')).toBeLessThan(
      r.body.events.findIndex((e: any) => e.type === 'call.started' && e.phase === commit),
    );
  });

  it('rolls every other branch back when one votes no', async () => {
    const id = fresh('no');
    s.participant.fault({ transactionId: id, branchId: 'b', phase: forward[0], status: 409, times: 10 });
    const r = await s.api.post('/v1/transactions?wait=10000', body(id));
    expect(r.body.status).toBe('aborted');
    for (const b of ['a', 'c']) {
      expect(phasesOf(id, b)).toContain(undo);
      expect(phasesOf(id, b)).not.toContain(commit);
    }
    expect(phasesOf(id, 'b')).not.toContain(commit);
    expect(r.body.branches.find((x: any) => x.id === 'b').status).toBe('rejected');
    for (const b of ['a', 'b', 'c']) expect(s.participant.outcome(id, b).committed).toBe(0);
  });

  it('aborts when a participant times out in the first phase', async () => {
    const id = fresh('slow');
    s.participant.fault({
      transactionId: id,
      branchId: 'c',
      phase: forward[0],
      status: 200,
      times: 10,
      when: 'after',
      delayMs: 3000,
    });
    const r = await s.api.post('/v1/transactions?wait=15000', body(id, { timeoutMs: 700 }));
    expect(r.body.status).toBe('aborted');
    expect(r.body.error).toMatch(/timed out|no answer/);
    // c's vote never arrived: it may be holding resources, so it is told to undo too
    for (const b of ['a', 'b', 'c']) expect(phasesOf(id, b)).toContain(undo);
    for (const b of ['a', 'b', 'c']) expect(s.participant.outcome(id, b).committed).toBe(0);
  });

  it('retries an unreachable participant in phase two, parks it as failed, and a replay completes it', async () => {
    const id = fresh('park');
    s.participant.fault({ transactionId: id, branchId: 'a', phase: commit, status: 503, times: 2 });
    const r = await s.api.post(
      '/v1/transactions?wait=15000',
      body(id, { retry: { maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 100 } }),
    );
    expect(r.body.status).toBe('failed');
    expect(r.body.error).toMatch(/not acknowledged/);
    // the decision stands: the others are committed, nobody was rolled back
    for (const b of ['b', 'c']) expect(s.participant.outcome(id, b)).toEqual({ applied: 1, committed: 1, undone: 0 });
    expect((await s.api.post(`/v1/transactions/${id}/abort`)).status).toBe(409);
    expect((await s.api.post(`/v1/transactions/${id}/replay`)).status).toBe(202);
    const done = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'committed');
    expect(done.branches.every((b: any) => b.status === 'completed' && b.phase === commit)).toBe(true);
    expect(s.participant.outcome(id, 'a')).toEqual({ applied: 1, committed: 1, undone: 0 });
  });

  it('writes answers of parallel branches that come back while a write waits in that write, in order', async () => {
    // many transfers at once keep the log busy, so answers often come back while their
    // transaction's write waits for the flush in flight
    const ids = Array.from({ length: 40 }, (_, i) => fresh(`together-${i}`));
    const replies = await Promise.all(ids.map((id) => s.api.post('/v1/transactions?wait=15000', body(id))));
    for (const r of replies) {
      expect(r.body.status).toBe('committed');
      const finished = r.body.events.filter((e: any) => e.type === 'call.finished');
      expect(finished).toHaveLength(3 * (forward.length + 1)); // every answer is in the timeline
      expect(r.body.events.map((e: any) => e.seq)).toEqual(r.body.events.map((_: unknown, i: number) => i + 1));
    }
    // one write per answer would take every transaction to version 1 + its answers
    const pg = new Client({ connectionString: s.db.url });
    await pg.connect();
    try {
      const { rows } = await pg.query('SELECT version FROM txc_transactions WHERE id = ANY($1)', [ids]);
      expect(rows).toHaveLength(ids.length);
      expect(Math.min(...rows.map((r) => r.version))).toBeLessThan(1 + 3 * (forward.length + 1));
    } finally {
      await pg.end();
    }
  });

  it('applies a phase-two delivery once when its reply is lost and it is delivered again', async () => {
    const id = fresh('dup');
    s.participant.fault({ transactionId: id, branchId: 'b', phase: commit, status: 500, times: 2, when: 'after' });
    const r = await s.api.post(
      '/v1/transactions?wait=15000',
      body(id, { retry: { maxAttempts: 5, initialBackoffMs: 50, maxBackoffMs: 100 } }),
    );
    expect(r.body.status).toBe('committed');
    expect(phasesOf(id, 'b').filter((p) => p === commit)).toHaveLength(3);
    expect(s.participant.outcome(id, 'b')).toEqual({ applied: 1, committed: 1, undone: 0 });
  });
});

describe.each(['tcc', '2pc'])('%s (interactive)', (protocol) => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack(`i${protocol}`);
  });
  afterAll(() => s.close());
  const [first, commitPhase, undoPhase] =
    protocol === 'tcc' ? ['try', 'confirm', 'cancel'] : ['prepare', 'commit', 'rollback'];

  it('begins, registers branches one by one, and commits', async () => {
    const id = `${protocol}-i-${Date.now()}`;
    const begun = await s.api.post('/v1/transactions', { id, protocol, mode: 'interactive', timeoutMs: 20000 });
    expect(begun.status).toBe(201);
    expect(begun.body).toMatchObject({ status: 'running', mode: 'interactive', branches: [] });
    for (const b of ['a', 'b']) {
      const r = await s.api.post(`/v1/transactions/${id}/branches`, { id: b, participant: 'p1', payload: { n: b } });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ id: b, status: 'succeeded', phase: first });
    }
    // registering the same branch again answers from the log, without a second call
    expect(
      (await s.api.post(`/v1/transactions/${id}/branches`, { id: 'a', participant: 'p1', payload: { n: 'a' } })).status,
    ).toBe(200);
    // the same id with other paths is another branch: refused, as another participant or payload is
    const otherPaths = { id: 'a', participant: 'p1', payload: { n: 'a' }, paths: { [commitPhase]: '/elsewhere' } };
    expect((await s.api.post(`/v1/transactions/${id}/branches`, otherPaths)).status).toBe(409);
    expect(s.participant.callsFor(id, first as Phase)).toHaveLength(2);
    const committed = await s.api.post(`/v1/transactions/${id}/commit?wait=10000`);
    expect(committed.status).toBe(200);
    expect(committed.body.status).toBe('committed');
    for (const b of ['a', 'b']) expect(s.participant.outcome(id, b)).toEqual({ applied: 1, committed: 1, undone: 0 });
    expect(s.participant.callsFor(id, commitPhase as Phase)).toHaveLength(2);
    // a repeat of the commit (its answer lost, no Idempotency-Key) is answered as the commit was
    const repeat = await s.api.post(`/v1/transactions/${id}/commit?wait=5000`);
    expect([repeat.status, repeat.body.status]).toEqual([200, 'committed']);
    // `wait=0` too: settled already, so 200
    const repeatNow = await s.api.post(`/v1/transactions/${id}/commit?wait=0`);
    expect([repeatNow.status, repeatNow.body.status]).toEqual([200, 'committed']);
    expect(s.participant.callsFor(id, commitPhase as Phase)).toHaveLength(2);
    expect((await s.api.post(`/v1/transactions/${id}/branches`, { id: 'c', participant: 'p1' })).status).toBe(409);
  });

  it('refuses a branch for a driven transaction (409): its branches were given at its start', async () => {
    const id = `${protocol}-driven-${Date.now()}`;
    // the first branch's answer is held back, so the transaction is still undecided when the branch comes
    s.participant.fault({
      transactionId: id,
      branchId: 'a',
      phase: first as Phase,
      status: 200,
      times: 1,
      when: 'after',
      delayMs: 1000,
    });
    await s.api.post('/v1/transactions', {
      id,
      protocol,
      timeoutMs: 20000,
      branches: [{ id: 'a', participant: 'p1' }],
    });
    const r = await s.api.post(`/v1/transactions/${id}/branches`, { id: 'z', participant: 'p1' });
    expect(r.status).toBe(409);
    expect(r.body.detail).toMatch(/not interactive/);
    const done = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'committed', 15_000);
    expect(done.branches.map((b: { id: string }) => b.id)).toEqual(['a']);
    expect(s.participant.callsFor(id, first as Phase).map((c) => c.body.branchId)).toEqual(['a']);
  });

  it('aborts a transaction whose client never commits, at its deadline', async () => {
    const id = `${protocol}-gone-${Date.now()}`;
    await s.api.post('/v1/transactions', { id, protocol, mode: 'interactive', timeoutMs: 1000 });
    expect((await s.api.post(`/v1/transactions/${id}/branches`, { id: 'a', participant: 'p1' })).status).toBe(200);
    const done = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'aborted', 15_000);
    expect(done.error).toBe('transaction timed out');
    expect(s.participant.outcome(id, 'a')).toEqual({ applied: 1, committed: 0, undone: 1 });
    expect(s.participant.callsFor(id, undoPhase as Phase)).toHaveLength(1);
  });

  it('answers 409 naming why to a branch that never answered within its attempts', async () => {
    const id = `${protocol}-silent-${Date.now()}`;
    const retry = { maxAttempts: 2, initialBackoffMs: 100, maxBackoffMs: 100 };
    await s.api.post('/v1/transactions', { id, protocol, mode: 'interactive', timeoutMs: 20000, retry });
    s.participant.fault({ transactionId: id, branchId: 'a', phase: first as Phase, status: 500, times: 5 });
    const silent = await s.api.post(`/v1/transactions/${id}/branches`, { id: 'a', participant: 'p1' });
    expect({ status: silent.status, type: silent.body.type }).toEqual({
      status: 409,
      type: '/problems/branch_rejected',
    });
    // it said what happened, not the status its undo left it in ("did not say yes (completed)")
    expect(silent.body.detail).toMatch(new RegExp(`^branch "a" did not say yes: .*${first}.*2 attempts`));
  });

  it('answers 409 to a branch that votes no, aborts at once, and refuses the commit', async () => {
    const id = `${protocol}-no-${Date.now()}`;
    await s.api.post('/v1/transactions', { id, protocol, mode: 'interactive', timeoutMs: 20000 });
    expect((await s.api.post(`/v1/transactions/${id}/branches`, { id: 'a', participant: 'p1' })).status).toBe(200);
    s.participant.fault({ transactionId: id, branchId: 'b', phase: first as Phase, status: 409, times: 5 });
    const no = await s.api.post(`/v1/transactions/${id}/branches`, { id: 'b', participant: 'p1' });
    expect(no.status).toBe(409);
    expect(no.body.type).toBe('/problems/branch_rejected');
    expect(no.body.detail).toBe(`branch "b" did not say yes: branch b answered no to ${first}`);
    // a no can never become a commit: the transaction rolls back without waiting for the client
    await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'aborted');
    const refused = await s.api.post(`/v1/transactions/${id}/commit`);
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/aborted/);
    expect((await s.api.post(`/v1/transactions/${id}/abort`)).status).toBe(200);
    expect(s.participant.outcome(id, 'a')).toEqual({ applied: 1, committed: 0, undone: 1 });
  });

  it('answers a registration once its branch voted, through the retries of its first phase (or 202 with ?wait=0)', async () => {
    const id = `${protocol}-retried-${Date.now()}`;
    await s.api.post('/v1/transactions', {
      id,
      protocol,
      mode: 'interactive',
      timeoutMs: 20000,
      retry: { maxAttempts: 5, initialBackoffMs: 200, maxBackoffMs: 200 },
    });
    s.participant.fault({ transactionId: id, branchId: 'a', phase: first as Phase, status: 503, times: 2 });
    const voted = await s.api.post(`/v1/transactions/${id}/branches`, { id: 'a', participant: 'p1' });
    expect({ status: voted.status, branch: voted.body.status, attempt: voted.body.attempt }).toEqual({
      status: 200,
      branch: 'succeeded',
      attempt: 3,
    });
    s.participant.fault({ transactionId: id, branchId: 'b', phase: first as Phase, status: 503, times: 1 });
    const early = await s.api.post(`/v1/transactions/${id}/branches?wait=0`, { id: 'b', participant: 'p1' });
    expect({ status: early.status, retrying: early.body.retrying }).toEqual({ status: 202, retrying: true });
  });

  // a repeat waited for the branch's next attempt (an hour away here) or the stuck-driver watchdog
  it('answers a repeat of a registration still waiting out its backoff within its own wait, sending nothing again', async () => {
    const id = `${protocol}-repeat-retrying-${Date.now()}`;
    const hour = 3_600_000;
    await s.api.post('/v1/transactions', {
      id,
      protocol,
      mode: 'interactive',
      timeoutMs: 2 * hour,
      retry: { maxAttempts: 5, initialBackoffMs: hour, maxBackoffMs: hour },
    });
    s.participant.fault({ transactionId: id, branchId: 'a', phase: first as Phase, status: 503, times: 1 });
    const branch = { id: 'a', participant: 'p1' };
    const firstAnswer = await s.api.post(`/v1/transactions/${id}/branches?wait=0`, branch);
    expect(firstAnswer.status).toBe(202);
    const { nextAttemptAt } = firstAnswer.body;
    for (const wait of [0, 500]) {
      const askedAt = Date.now();
      const repeat = await s.api.post(`/v1/transactions/${id}/branches?wait=${wait}`, branch);
      expect({ status: repeat.status, retrying: repeat.body.retrying }).toEqual({ status: 202, retrying: true });
      // within its wait (and a margin): not when the transaction is let go of, the branch's next attempt or the watchdog
      expect(Date.now() - askedAt).toBeLessThan(wait + 2_000);
    }
    expect(s.participant.callsFor(id, first as Phase)).toHaveLength(1);
    // the branch's next attempt is where it was: the repeats moved nothing
    expect((await s.api.get(`/v1/transactions/${id}`)).body.branches[0].nextAttemptAt).toBe(nextAttemptAt);
    expect((await s.api.post(`/v1/transactions/${id}/abort`)).status).toBe(202);
  });

  it('refuses a commit while a branch has not said yes', async () => {
    const id = `${protocol}-early-${Date.now()}`;
    await s.api.post('/v1/transactions', { id, protocol, mode: 'interactive', timeoutMs: 20000 });
    expect((await s.api.post(`/v1/transactions/${id}/commit`)).status).toBe(409); // no branch yet
    s.participant.fault({ transactionId: id, branchId: 'a', phase: first as Phase, status: 503, times: 1 });
    s.participant.fault({
      transactionId: id,
      branchId: 'a',
      phase: first as Phase,
      status: 200,
      times: 1,
      when: 'after',
      delayMs: 800,
    });
    const pending = s.api.post(`/v1/transactions/${id}/branches`, { id: 'a', participant: 'p1' });
    await new Promise((r) => setTimeout(r, 300));
    const early = await s.api.post(`/v1/transactions/${id}/commit`);
    expect(early.status).toBe(409);
    expect(early.body.detail).toMatch(/not every branch said yes/);
    expect([200, 202]).toContain((await pending).status);
    await s.api.until(`/v1/transactions/${id}`, (t: any) => t.branches[0]?.status === 'succeeded');
    const done = await s.api.post(`/v1/transactions/${id}/commit?wait=5000`);
    expect(done.body.status).toBe('committed');
    // the refused commits changed nothing and are not in the timeline; the honoured one is, once
    const asked = done.body.events.filter((e: { type: string }) => e.type === 'transaction.commit-requested');
    expect(asked).toHaveLength(1);
  });

  it('refuses branches in driven-mode bodies and commits of driven transactions', async () => {
    const bad = await s.api.post('/v1/transactions', {
      protocol,
      mode: 'interactive',
      branches: [{ id: 'a', participant: 'p1' }],
    });
    expect(bad.status).toBe(422);
    const driven = await s.api.post('/v1/transactions?wait=5000', {
      protocol,
      branches: [{ id: 'a', participant: 'p1' }],
    });
    expect((await s.api.post(`/v1/transactions/${driven.body.id}/commit`)).status).toBe(409);
  });
});
