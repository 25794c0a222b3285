import { BranchStatus, Phase, SETTLED_STATUSES } from '#contracts';
import type { BranchRecord, LoadedTransaction } from '#store';

/** Phases a branch reaches only after its forward phase said yes. */
const AFTER_YES: Phase[] = [Phase.Confirm, Phase.Commit];

/**
 * The vote of interactive branch `branchId` whose first answer did not come in while its
 * registration waited (its try or prepare is being retried, or waits for its participant): read
 * from the log until it is in, the transaction ends, `untilMs` passes or the process is `stopping`
 * (null: still not in). `succeeded` once it said yes (also when the commit already moved it on),
 * else the status it stopped in (a no, no answer within its attempts, or abandoned by an abort).
 */
export async function awaitVote(
  load: () => Promise<LoadedTransaction>,
  branchId: string,
  untilMs: number,
  {
    stopping = () => false,
    pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  }: { stopping?: () => boolean; pause?: (ms: number) => Promise<void> } = {},
): Promise<BranchStatus | null> {
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    const { txn, branches } = await load();
    const branch = branches.find((b) => b.id === branchId);
    const vote = branch ? voteOf(branch) : null;
    if (vote !== null) return vote;
    if (!branch || SETTLED_STATUSES.includes(txn.status) || Date.now() + delay > untilMs || stopping()) return null;
    await pause(delay);
  }
}

/**
 * An interactive branch's vote as the log has it: `succeeded` once it said yes (also when the
 * commit already moved it on), the status its forward phase stopped in (a no, no answer within its
 * attempts, abandoned by an abort), or null while it is still being asked.
 */
export function voteOf(branch: Pick<BranchRecord, 'status' | 'phase'>): BranchStatus | null {
  if (branch.status === BranchStatus.Pending || branch.status === BranchStatus.Running) return null;
  return branch.status === BranchStatus.Succeeded || AFTER_YES.includes(branch.phase)
    ? BranchStatus.Succeeded
    : branch.status;
}
