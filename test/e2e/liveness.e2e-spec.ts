import { startTestStack, type TestStack } from '#testing';

/**
 * Liveness of an operator's replay: a transaction that parked as `failed` while another branch's
 * completion call was still in flight (its answer is then dropped: the driver has let go) reaches a
 * final state once replayed with healthy participants. Before the fix it stayed committing/aborting
 * for good: the in-flight branch was never delivered again.
 */
describe('replay after a partial completion', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack('liveness');
  });
  afterAll(() => s.close());

  const retry = { maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 100 };

  /** Waits until the participant has answered every call it received for `id`. */
  async function quiet(id: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (s.participant.callsFor(id).some((c) => c.answeredAt === null) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it.each([
    ['tcc', 'confirm'],
    ['2pc', 'commit'],
    ['3pc', 'do-commit'],
  ] as const)(
    '%s: one branch out of attempts while another is in flight, replayed, commits',
    async (protocol, commit) => {
      const id = `live-${protocol}-${Date.now()}`;
      // a's completion fails every time; b's is slow, still in flight when a runs out of attempts
      s.participant.fault({ transactionId: id, branchId: 'a', phase: commit, status: 500, times: 2 });
      s.participant.fault({
        transactionId: id,
        branchId: 'b',
        phase: commit,
        status: 200,
        times: 1,
        delayMs: 1_200,
        when: 'after',
      });
      const r = await s.api.post('/v1/transactions?wait=10000', {
        id,
        protocol,
        retry,
        branches: ['a', 'b'].map((b) => ({ id: b, participant: 'p1', payload: { n: b } })),
      });
      expect(r.body.status).toBe('failed');
      await quiet(id); // b's answer came back to a driver that had let go
      expect((await s.api.post(`/v1/transactions/${id}/replay`)).status).toBe(202);
      const done = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'committed', 15_000);
      expect(done.branches.map((b: any) => b.status)).toEqual(['completed', 'completed']);
      for (const b of ['a', 'b']) expect(s.participant.outcome(id, b)).toMatchObject({ committed: 1, undone: 0 });
    },
  );

  it('saga: parallel compensations, one out of attempts while the other is in flight, replayed, aborts', async () => {
    const id = `live-saga-${Date.now()}`;
    s.participant.fault({ transactionId: id, branchId: 'c', phase: 'action', status: 409, times: 1 });
    s.participant.fault({ transactionId: id, branchId: 'a', phase: 'compensate', status: 500, times: 2 });
    s.participant.fault({
      transactionId: id,
      branchId: 'b',
      phase: 'compensate',
      status: 200,
      times: 1,
      delayMs: 1_200,
      when: 'after',
    });
    const r = await s.api.post('/v1/transactions?wait=10000', {
      id,
      protocol: 'saga',
      retry,
      branches: [
        { id: 'a', participant: 'p1', dependsOn: [] },
        { id: 'b', participant: 'p1', dependsOn: [] },
        { id: 'c', participant: 'p1', dependsOn: ['a', 'b'] },
      ],
    });
    expect(r.body.status).toBe('failed');
    await quiet(id);
    expect((await s.api.post(`/v1/transactions/${id}/replay`)).status).toBe(202);
    const done = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'aborted', 15_000);
    expect(done.branches.find((b: any) => b.id === 'b').status).toBe('completed');
    for (const b of ['a', 'b']) expect(s.participant.outcome(id, b)).toMatchObject({ applied: 1, undone: 1 });
  });
});
