import { randomUUID } from 'node:crypto';
import type { Phase, Protocol } from '#contracts';
import { TestParticipant } from './test-participant';

/** The test participant must count what happened, so that "applied exactly once" can fail. */
describe('TestParticipant', () => {
  let p: TestParticipant;

  beforeAll(async () => {
    p = await TestParticipant.start();
  });

  afterAll(async () => {
    await p.close();
  });

  afterEach(() => p.clearFaults());

  async function send(transactionId: string, branchId: string, phase: Phase, protocol: Protocol = 'saga') {
    const res = await fetch(`${p.url}/${protocol}/${phase}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ transactionId, branchId, protocol, phase, attempt: 1, payload: null }),
    });
    await res.arrayBuffer();
    return res.status;
  }

  it('applies a repeated phase once and answers as the first delivery did', async () => {
    const t = randomUUID();
    expect(await send(t, 'a', 'action')).toBe(200);
    expect(await send(t, 'a', 'action')).toBe(200);
    expect(await send(t, 'a', 'compensate')).toBe(200);
    expect(await send(t, 'a', 'compensate')).toBe(200);
    expect(p.effects(t, 'a')).toEqual({ applied: 1, compensated: 1 });
  });

  it('counts a forward effect applied under two keys twice', async () => {
    const t = randomUUID();
    await send(t, 'a', 'action');
    await send(t, 'a', 'try', 'tcc');
    expect(p.outcome(t, 'a').applied).toBe(2);
  });

  it('shows both effects for an undo after a commit, and for a commit after an undo', async () => {
    const t = randomUUID();
    await send(t, 'a', 'try', 'tcc');
    await send(t, 'a', 'confirm', 'tcc');
    await send(t, 'a', 'cancel', 'tcc');
    expect(p.outcome(t, 'a')).toEqual({ applied: 1, committed: 1, undone: 1 });
    await send(t, 'b', 'prepare', '2pc');
    await send(t, 'b', 'rollback', '2pc');
    await send(t, 'b', 'commit', '2pc');
    expect(p.outcome(t, 'b')).toEqual({ applied: 1, committed: 1, undone: 1 });
  });

  it('an undo that arrives first is a null undo and fences the late forward phase off', async () => {
    const t = randomUUID();
    expect(await send(t, 'a', 'compensate')).toBe(200);
    expect(await send(t, 'a', 'action')).toBe(409);
    expect(p.effects(t, 'a')).toEqual({ applied: 0, compensated: 0 });
  });

  it('remembers a forward phase that said no: a late delivery answers 409 and applies nothing, its undo is null', async () => {
    const t = randomUUID();
    p.fault({ transactionId: t, phase: 'try', status: 409, times: 1 });
    expect(await send(t, 'a', 'try', 'tcc')).toBe(409);
    expect(await send(t, 'a', 'try', 'tcc')).toBe(409);
    expect(await send(t, 'a', 'cancel', 'tcc')).toBe(200);
    expect(p.outcome(t, 'a')).toEqual({ applied: 0, committed: 0, undone: 0 });
  });

  it('a failure before the barrier writes nothing; a lost reply (after) applies once', async () => {
    const t = randomUUID();
    p.fault({ transactionId: t, branchId: 'a', status: 500, times: 1 });
    expect(await send(t, 'a', 'action')).toBe(500);
    expect(p.effects(t, 'a').applied).toBe(0);
    expect(await send(t, 'a', 'action')).toBe(200);
    p.fault({ transactionId: t, branchId: 'b', status: 503, times: 1, when: 'after' });
    expect(await send(t, 'b', 'action')).toBe(503);
    expect(await send(t, 'b', 'action')).toBe(200);
    expect(p.effects(t, 'a').applied).toBe(1);
    expect(p.effects(t, 'b').applied).toBe(1);
  });

  it('counts 3PC pre-commit apart from the forward effect, and refuses a pre-commit after the abort', async () => {
    const t = randomUUID();
    await send(t, 'a', 'can-commit', '3pc');
    await send(t, 'a', 'abort', '3pc');
    // as the SDK barrier does: the abort fences can-commit and pre-commit off, so a late pre-commit
    // cannot prepare the participant to commit on its own timer
    expect(await send(t, 'a', 'pre-commit', '3pc')).toBe(409);
    expect(p.outcome(t, 'a')).toEqual({ applied: 1, committed: 0, undone: 1 });
    expect(p.effectsByPhase(t, 'a')).toEqual({ 'can-commit': 1, abort: 1 });
    const u = randomUUID();
    await send(u, 'a', 'can-commit', '3pc');
    expect(await send(u, 'a', 'pre-commit', '3pc')).toBe(200); // before the abort: applied
    await send(u, 'a', 'abort', '3pc');
    expect(p.effectsByPhase(u, 'a')).toEqual({ 'can-commit': 1, 'pre-commit': 1, abort: 1 });
  });
});
