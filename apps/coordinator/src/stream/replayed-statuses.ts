import type { StatusChange } from '#contracts';

/** How long after a replay a live event is still checked against it: a NOTIFY trails its commit by far less. */
export const REPLAY_SHADOW_MS = 15_000;

/**
 * What a resumed stream replayed from the log: each transaction's status as the replay read it.
 * The live events held while the replay was read (and those that come soon after it: a NOTIFY
 * trails its commit) may be older than what was replayed, and sent after it they would move a
 * transaction back: a final status, then an earlier one. Those are dropped, as is the replayed
 * status heard again; anything newer goes through, and from then on the live order holds.
 */
export class ReplayedStatuses {
  private readonly replayed = new Map<string, { status: string; at: number }>();

  note(change: StatusChange): void {
    this.replayed.set(change.id, { status: change.status, at: Date.parse(change.updatedAt) });
  }

  /** Whether `change` is no news after the replay: older than its transaction's replayed status, or that status again. */
  isOlder(change: StatusChange): boolean {
    const seen = this.replayed.get(change.id);
    if (!seen) return false;
    const at = Date.parse(change.updatedAt);
    if (at < seen.at || (at === seen.at && change.status === seen.status)) return true;
    this.replayed.delete(change.id);
    return false;
  }

  /** Stops checking: past {@link REPLAY_SHADOW_MS}, every live event is newer than the replay. */
  clear(): void {
    this.replayed.clear();
  }
}
