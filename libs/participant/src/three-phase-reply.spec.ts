import { threePhaseReply } from './three-phase-handlers';

describe('threePhaseReply', () => {
  it('says what a conflict was: a contradicted decision, or a do-commit for a branch that never voted', () => {
    const afterTimer = threePhaseReply(
      { kind: 'conflict', decision: 'abort', status: 'committed', resolvedBy: 'timer' },
      'abort',
    );
    expect(afterTimer).toMatchObject({
      status: 200,
      body: { kind: 'conflict', status: 'committed', resolvedBy: 'timer' },
    });
    expect((afterTimer.body as { detail: string }).detail).toMatch(/already committed by the timer: atomicity lost/);

    const neverVoted = threePhaseReply(
      { kind: 'conflict', decision: 'commit', status: 'aborted', resolvedBy: null },
      'do-commit',
    );
    expect(neverVoted).toMatchObject({ status: 200, body: { kind: 'conflict', status: 'aborted', resolvedBy: null } });
    expect((neverVoted.body as { detail: string }).detail).toBe(
      'do-commit for a branch that never voted here (nothing reserved): nothing changed',
    );
  });
});
