/**
 * Runs work one item at a time, in the order it was queued: a driver's events, actions and writes,
 * so each meets the state the ones before it left. An item that fails is handed to `failed` (its
 * caller is rejected too); the items queued after it still run.
 */
export class Mailbox {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;

  constructor(private readonly failed: (what: string, error: unknown) => void) {}

  /** Items queued and not started yet. */
  get queued(): number {
    return this.waiting;
  }

  /** Settles once everything queued so far has run. */
  get drained(): Promise<void> {
    return this.tail;
  }

  /** Runs `work` after every item queued before it; `what` names it to `failed`. */
  enqueue<T>(what: string, work: () => Promise<T>): Promise<T> {
    this.waiting += 1;
    const run = this.tail.then(() => {
      this.waiting -= 1;
      return work();
    });
    this.tail = run.then(
      () => undefined,
      (error: unknown) => this.failed(what, error),
    );
    return run;
  }
}
