import type { EventRecord, LoadedTransaction, StoredResponse } from '#store';

/** A settled transaction as its driver last wrote it. */
export type Snapshot = { loaded: LoadedTransaction; events: EventRecord[] };

/**
 * A start with an Idempotency-Key waiting for its transaction to settle: the answer it gives then,
 * built from the settled snapshot, so that the settling write can store it for the key.
 */
export interface SettleResponder {
  key: string;
  reply(snapshot: Snapshot): Omit<StoredResponse, 'key'>;
}

/**
 * How a wait ended: the final snapshot (null when it timed out or the driver let go), the response
 * the settling write stored for the waiter's key if it carried one (`stored`), and whether a write
 * carrying the waiter's response was still out, its outcome unknown (`answerInFlight`): the key's
 * answer is then whatever the log ends up holding, not one the waiter may build itself.
 */
export interface SettleOutcome {
  snapshot: Snapshot | null;
  stored: StoredResponse | null;
  answerInFlight: boolean;
}

interface Waiter {
  readonly responder?: SettleResponder;
  /** The response a settling write carries, until that write's outcome is known. */
  writing: StoredResponse | null;
  stored: StoredResponse | null;
  finish(snapshot: Snapshot | null): void;
}

/** Requests waiting (`?wait=`) for a transaction this instance drives to settle or be let go of. */
export class SettleWaiters {
  private readonly waiters = new Map<string, Set<Waiter>>();

  /**
   * Resolves with the final snapshot when `id` settles here, with a null snapshot when it is let go
   * of or `ms` pass. A `responder`'s answer may be stored by the settling write itself (see
   * {@link respondOnSettle}); the outcome says whether it was, or is still being written.
   */
  wait(id: string, ms: number, responder?: SettleResponder): Promise<SettleOutcome> {
    return new Promise<SettleOutcome>((resolve) => {
      const listeners = this.waiters.get(id) ?? new Set<Waiter>();
      const waiter: Waiter = {
        responder,
        writing: null,
        stored: null,
        finish: (snapshot) => {
          clearTimeout(timer);
          listeners.delete(waiter);
          if (listeners.size === 0 && this.waiters.get(id) === listeners) this.waiters.delete(id);
          resolve({ snapshot, stored: waiter.stored, answerInFlight: waiter.writing !== null });
        },
      };
      const timer = setTimeout(() => waiter.finish(null), ms);
      listeners.add(waiter);
      this.waiters.set(id, listeners);
    });
  }

  /**
   * The settling write of `id` is being built, `snapshot` the transaction as it leaves it: the answer of a keyed start waiting
   * for it, to be stored with that write, or null when none waits (or its answer cannot be built).
   * The driver reports the write's outcome with {@link responseWritten}.
   */
  respondOnSettle(id: string, snapshot: () => Snapshot): StoredResponse | null {
    for (const w of this.waiters.get(id) ?? []) {
      if (!w.responder || w.writing || w.stored) continue;
      try {
        w.writing = { key: w.responder.key, ...w.responder.reply(snapshot()) };
      } catch {
        return null; // answered as before: built once the transaction settled, and stored after it
      }
      return w.writing;
    }
    return null;
  }

  /**
   * The write that carried `response` for `id` applied (`stored`: the key has it) or surely did not
   * (`refused`). A write whose outcome is unknown is not reported: its waiter ends with `answerInFlight`.
   */
  responseWritten(id: string, response: StoredResponse, outcome: 'stored' | 'refused'): void {
    for (const w of this.waiters.get(id) ?? []) {
      if (w.writing !== response) continue;
      w.writing = null;
      if (outcome === 'stored') w.stored = response;
    }
  }

  /** How many transactions have requests waiting on them (each entry is freed with its last waiter). */
  get size(): number {
    return this.waiters.size;
  }

  /** The instance is stopping and lets go of everything it drives: every wait ends now, unsettled. */
  releaseAll(): void {
    for (const id of [...this.waiters.keys()]) this.notify(id, () => null);
  }

  /** The driver of `id` settled (with its snapshot) or let go of it (null). */
  notify(id: string, snapshot: () => Snapshot | null): void {
    const listeners = this.waiters.get(id);
    if (!listeners) return;
    this.waiters.delete(id);
    const s = snapshot();
    for (const l of listeners) l.finish(s);
  }
}
