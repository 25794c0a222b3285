import type { EventRecord, LoadedTransaction } from '#store';

/** A settled transaction as its driver last wrote it. */
export type Snapshot = { loaded: LoadedTransaction; events: EventRecord[] };

/** Requests waiting (`?wait=`) for a transaction this instance drives to settle or be let go of. */
export class SettleWaiters {
  private readonly waiters = new Map<string, Set<(snapshot: Snapshot | null) => void>>();

  /** Resolves with the final snapshot when `id` settles here, with null when it is let go of or `ms` pass. */
  wait(id: string, ms: number): Promise<Snapshot | null> {
    return new Promise<Snapshot | null>((resolve) => {
      const listeners = this.waiters.get(id) ?? new Set();
      const done = (s: Snapshot | null) => {
        clearTimeout(timer);
        listeners.delete(done);
        if (listeners.size === 0 && this.waiters.get(id) === listeners) this.waiters.delete(id);
        resolve(s);
      };
      const timer = setTimeout(() => done(null), ms);
      listeners.add(done);
      this.waiters.set(id, listeners);
    });
  }

  /** How many transactions have requests waiting on them (each entry is freed with its last waiter). */
  get size(): number {
    return this.waiters.size;
  }

  /** The driver of `id` settled (with its snapshot) or let go of it (null). */
  notify(id: string, snapshot: () => Snapshot | null): void {
    const listeners = this.waiters.get(id);
    if (!listeners) return;
    this.waiters.delete(id);
    const s = snapshot();
    for (const l of listeners) l(s);
  }
}
