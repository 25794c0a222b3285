import { BranchStatus } from '#contracts';
import type { BranchState } from '#protocol';

/**
 * Interactive registrations waiting for their branch to leave pending/running, by branch id. Each
 * waiter is resolved once: with the branch's status, or with null when the driver stops first.
 */
export class BranchWaiters {
  private readonly waiters = new Map<string, ((status: BranchStatus | null) => void)[]>();

  /** Resolves when {@link resolve}, {@link notify} or {@link releaseAll} reaches branch `id`. */
  wait(id: string): Promise<BranchStatus | null> {
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      list.push(resolve);
      this.waiters.set(id, list);
    });
  }

  resolve(id: string, status: BranchStatus | null): void {
    const waiters = this.waiters.get(id) ?? [];
    this.waiters.delete(id);
    for (const w of waiters) w(status);
  }

  /** Resolves the waiters of each branch that has left pending/running in `branches` (a state just written). */
  notify(branches: readonly BranchState[]): void {
    for (const id of [...this.waiters.keys()]) {
      const b = branches.find((x) => x.id === id);
      if (!b || b.status === BranchStatus.Pending || b.status === BranchStatus.Running) continue;
      this.resolve(id, b.status);
    }
  }

  /** The driver stopped: every waiter gets null. */
  releaseAll(): void {
    for (const waiters of this.waiters.values()) for (const w of waiters) w(null);
    this.waiters.clear();
  }
}
