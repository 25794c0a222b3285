/**
 * Group commit: concurrent callers' ops are gathered while a flush is in flight and written together
 * by the next flush, one statement and one commit for the batch. A batch that the database refused
 * (rolled back for certain) is retried op by op, so one bad op fails alone. A batch whose outcome is
 * unknown (the connection broke: it may have committed) is not retried here: every op fails with the
 * error, and its caller verifies against the log before it believes a `stale` or `exists`.
 *
 * With `slowFlushMs`, a further flush starts only once the oldest one in flight has taken that long:
 * one flush at a time gathers the largest batches (the fewest commits), and a flush held up (a
 * connection that died without a word, a lock) does not hold every other write up with it.
 */
export class LogWriter<Op, Result> {
  private queue: { build: () => Op; resolve: (r: Result) => void; reject: (e: unknown) => void }[] = [];
  /** When each flush in flight started. */
  private readonly inFlight = new Set<{ startedAt: number }>();
  private slowTimer: NodeJS.Timeout | null = null;
  /** Told the size of every batch as its flush starts (a histogram for metrics). */
  onBatch: ((size: number) => void) | null = null;

  constructor(
    private readonly execute: (ops: Op[]) => Promise<Result[]>,
    private readonly options: { maxBatch: number; maxConcurrentFlushes: number; slowFlushMs?: number } = {
      maxBatch: 256,
      maxConcurrentFlushes: 2,
    },
    /** Whether a failed batch certainly wrote nothing (so its ops may be retried one by one). */
    private readonly rolledBack: (error: unknown) => boolean = () => true,
  ) {}

  /** Resolves once the op is durable, with its result. */
  submit(op: Op): Promise<Result> {
    return this.enqueue(() => op);
  }

  /**
   * Like {@link submit}, with the op built when its batch is cut: at once when no flush is in flight,
   * otherwise when the one in flight ends. Until then the caller may still add to what `build` will
   * return (an op waiting anyway can take in more without a write of its own). A `build` that throws
   * fails its op alone.
   */
  submitBuiltAtCut(build: () => Op): Promise<Result> {
    return this.enqueue(build);
  }

  private enqueue(build: () => Op): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ build, resolve, reject });
      this.kick();
    });
  }

  /** Ops waiting for a flush (a gauge for metrics). */
  get backlog(): number {
    return this.queue.length;
  }

  private kick(): void {
    while (this.queue.length > 0 && this.mayStartFlush()) {
      const batch = this.cut();
      if (batch.length === 0) continue;
      const flight = { startedAt: Date.now() };
      this.inFlight.add(flight);
      this.onBatch?.(batch.length);
      const landed = () => {
        if (this.inFlight.delete(flight)) this.kick();
      };
      void this.flush(batch, landed).finally(landed);
    }
    this.watchSlowFlush();
  }

  private mayStartFlush(): boolean {
    if (this.inFlight.size === 0) return true;
    if (this.inFlight.size >= this.options.maxConcurrentFlushes) return false;
    return Date.now() - this.oldestStart() >= (this.options.slowFlushMs ?? 0);
  }

  /** Ops wait while a flush is in flight: look again when it turns slow. */
  private watchSlowFlush(): void {
    const slow = this.options.slowFlushMs ?? 0;
    if (this.slowTimer || this.queue.length === 0 || slow <= 0) return;
    if (this.inFlight.size === 0 || this.inFlight.size >= this.options.maxConcurrentFlushes) return;
    this.slowTimer = setTimeout(
      () => {
        this.slowTimer = null;
        this.kick();
      },
      Math.max(0, this.oldestStart() + slow - Date.now()),
    );
    this.slowTimer.unref?.();
  }

  private oldestStart(): number {
    let oldest = Infinity;
    for (const f of this.inFlight) oldest = Math.min(oldest, f.startedAt);
    return oldest;
  }

  /** The next batch, every op in it built. */
  private cut(): Batch<Op, Result> {
    const batch: Batch<Op, Result> = [];
    for (const entry of this.queue.splice(0, this.options.maxBatch)) {
      try {
        batch.push({ op: entry.build(), resolve: entry.resolve, reject: entry.reject });
      } catch (error) {
        entry.reject(error);
      }
    }
    return batch;
  }

  /** Writes `batch`; `landed` ends its flight (and starts the next flush), once. */
  private async flush(batch: Batch<Op, Result>, landed: () => void): Promise<void> {
    try {
      const results = await this.execute(batch.map((b) => b.op));
      // the next batch goes out before this one's callers resume: what they do next (make calls,
      // send replies) would otherwise hold it up. Their tick is queued after the next flush's start,
      // so a pool that hands over its connection on the next tick still sends that statement first.
      landed();
      process.nextTick(() => batch.forEach((b, i) => b.resolve(results[i])));
    } catch (error) {
      if (batch.length === 1 || !this.rolledBack(error)) {
        for (const b of batch) b.reject(error);
        return;
      }
      for (const b of batch) {
        try {
          b.resolve((await this.execute([b.op]))[0]);
        } catch (e) {
          b.reject(e);
        }
      }
    }
  }
}

type Batch<Op, Result> = { op: Op; resolve: (r: Result) => void; reject: (e: unknown) => void }[];
