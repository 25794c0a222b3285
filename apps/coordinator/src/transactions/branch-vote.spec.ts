import type { LoadedTransaction } from '#store';
import { awaitVote } from './branch-vote';

/** A log that answers each read with the next of `states` (the last one stays). */
function logOf(states: { txn: string; branch: string; phase: string }[]) {
  let reads = 0;
  const load = async () => {
    const s = states[Math.min(reads++, states.length - 1)];
    return {
      txn: { status: s.txn },
      branches: [{ id: 'a', status: s.branch, phase: s.phase }],
    } as unknown as LoadedTransaction;
  };
  return { load, reads: () => reads };
}
const noPause = async () => undefined;
const later = () => Date.now() + 60_000;

describe('awaitVote', () => {
  it('waits through the retries of a try for its yes', async () => {
    const log = logOf([
      { txn: 'running', branch: 'running', phase: 'try' },
      { txn: 'running', branch: 'running', phase: 'try' },
      { txn: 'running', branch: 'succeeded', phase: 'try' },
    ]);
    expect(await awaitVote(log.load, 'a', later(), { pause: noPause })).toBe('succeeded');
    expect(log.reads()).toBe(3);
  });

  it('a yes the commit already moved on is still a yes; a no, or an abort first, is what it stopped in', async () => {
    expect(
      await awaitVote(logOf([{ txn: 'committing', branch: 'completing', phase: 'confirm' }]).load, 'a', later(), {
        pause: noPause,
      }),
    ).toBe('succeeded');
    expect(
      await awaitVote(logOf([{ txn: 'aborting', branch: 'rejected', phase: 'try' }]).load, 'a', later(), {
        pause: noPause,
      }),
    ).toBe('rejected');
    expect(
      await awaitVote(logOf([{ txn: 'aborted', branch: 'completed', phase: 'cancel' }]).load, 'a', later(), {
        pause: noPause,
      }),
    ).toBe('completed');
  });

  it('gives up when the process stops: a shutdown answers what it has', async () => {
    let stopping = false;
    const log = logOf([{ txn: 'running', branch: 'running', phase: 'try' }]);
    const pause = async () => {
      stopping = true;
    };
    expect(await awaitVote(log.load, 'a', later(), { pause, stopping: () => stopping })).toBeNull();
    expect(log.reads()).toBe(2);
  });

  it('gives up at its time, or when the transaction ended with the branch undecided', async () => {
    expect(
      await awaitVote(logOf([{ txn: 'running', branch: 'running', phase: 'try' }]).load, 'a', Date.now(), {
        pause: noPause,
      }),
    ).toBeNull();
    expect(
      await awaitVote(logOf([{ txn: 'failed', branch: 'running', phase: 'try' }]).load, 'a', later(), {
        pause: noPause,
      }),
    ).toBeNull();
  });
});
