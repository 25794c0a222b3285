/** The furthest ahead a deferred call is promised its turn. */
const MAX_BOOKING_MS = 24 * 3_600_000;

/** What a participant allows this coordinator: its share of the participant's limits (null = no limit). */
export interface LimitShare {
  maxConcurrency: number | null;
  ratePerSecond: number | null;
}

/** Held while a call is in flight; released exactly once. */
export type Permit = () => void;

interface Waiter {
  grant: (permit: Permit | null) => void;
  timer: NodeJS.Timeout;
}

/**
 * One participant's limits on this coordinator: at most `maxConcurrency` calls in flight, and a
 * token bucket refilled at `ratePerSecond` holding at most a tenth of a second's worth (at least
 * one token), so no burst goes far past the rate. Waiters are served first come, first served; a
 * waiter not served within its `maxWaitMs` gets null (its caller defers the call durably instead of
 * holding it here). Pure bookkeeping with timers: no I/O.
 */
export class ParticipantLimiter {
  private inFlight = 0;
  private tokens: number;
  private refilledAt: number;
  private readonly queue: Waiter[] = [];
  private pumpTimer: NodeJS.Timeout | null = null;
  /** Tokens up to this time (epoch ms) are promised to calls that were deferred (see {@link book}). */
  private bookedUntil = 0;

  constructor(
    private share: LimitShare,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = this.capacity;
    this.refilledAt = now();
  }

  /** Calls in flight through this limiter now. */
  get active(): number {
    return this.inFlight;
  }

  /** Applies new limits (a re-registration, or another coordinator joining or leaving). */
  /** This coordinator's share allows no call at all (others hold the participant's whole limit). */
  get hasNoShare(): boolean {
    return this.share.maxConcurrency === 0;
  }

  update(share: LimitShare): void {
    if (share.maxConcurrency === this.share.maxConcurrency && share.ratePerSecond === this.share.ratePerSecond) return;
    this.refill();
    this.share = share;
    this.tokens = Math.min(this.tokens, this.capacity);
    this.pump();
  }

  /**
   * How long a call arriving now would wait for its token, from the rate and the waiters ahead of it
   * (0 without a rate: a concurrency slot's wait cannot be foreseen). A caller that would wait far
   * longer than it may hold a call in memory defers it to about its turn instead of queueing.
   */
  expectedWaitMs(): number {
    const rate = this.share.ratePerSecond;
    if (rate === null) return 0;
    this.refill();
    const short = this.queue.length + 1 - this.tokens;
    const queued = short <= 0 ? 0 : Math.ceil((short / rate) * 1000);
    return Math.max(queued, this.bookedUntil - this.now());
  }

  /**
   * Promises a token behind the queue and the earlier promises to a call that goes away and comes
   * back for it; answers when it is due. Calls deferred together are so spread at the rate, instead
   * of all coming back at once to queue again.
   */
  book(): number {
    const rate = this.share.ratePerSecond ?? Infinity;
    // bounded: a rate stored before its lower bound existed must not book a turn past any valid date
    this.bookedUntil = Math.min(this.now() + this.expectedWaitMs() + 1000 / rate, this.now() + MAX_BOOKING_MS);
    return this.bookedUntil;
  }

  /** A permit as soon as the limits allow, or null after `maxWaitMs`. */
  acquire(maxWaitMs: number): Promise<Permit | null> {
    if (this.queue.length === 0 && this.admit()) return Promise.resolve(this.permit());
    return new Promise((resolve) => {
      const waiter: Waiter = {
        grant: resolve,
        timer: setTimeout(() => {
          const at = this.queue.indexOf(waiter);
          if (at >= 0) this.queue.splice(at, 1);
          resolve(null);
        }, maxWaitMs).unref(),
      };
      this.queue.push(waiter);
      this.pump();
    });
  }

  private get capacity(): number {
    const rate = this.share.ratePerSecond;
    return rate === null ? Infinity : Math.max(1, rate / 10);
  }

  private refill(): void {
    const now = this.now();
    const rate = this.share.ratePerSecond;
    if (rate !== null) this.tokens = Math.min(this.capacity, this.tokens + ((now - this.refilledAt) / 1000) * rate);
    this.refilledAt = now;
  }

  /** Takes a slot and a token when both are there. */
  private admit(): boolean {
    const max = this.share.maxConcurrency;
    if (max !== null && this.inFlight >= max) return false;
    this.refill();
    if (this.share.ratePerSecond !== null) {
      if (this.tokens < 1) return false;
      this.tokens -= 1;
    }
    this.inFlight += 1;
    return true;
  }

  private permit(): Permit {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight -= 1;
      this.pump();
    };
  }

  /** Serves waiters in order while the limits allow; when only tokens are short, comes back when one is due. */
  private pump(): void {
    while (this.queue.length > 0 && this.admit()) {
      const waiter = this.queue.shift()!;
      clearTimeout(waiter.timer);
      waiter.grant(this.permit());
    }
    const max = this.share.maxConcurrency;
    const slotFree = max === null || this.inFlight < max;
    if (this.queue.length > 0 && slotFree && !this.pumpTimer && this.share.ratePerSecond !== null) {
      const wait = Math.ceil(((1 - this.tokens) / this.share.ratePerSecond) * 1000);
      this.pumpTimer = setTimeout(
        () => {
          this.pumpTimer = null;
          this.pump();
        },
        Math.max(1, wait),
      );
      this.pumpTimer.unref();
    }
  }
}

/**
 * This coordinator's share of a participant's limits when `coordinators` share them and this one is
 * `rank` among them (0-based, by id): the rate divided evenly; the concurrency divided so that the
 * shares add up to the limit exactly (the first `limit % n` get one more). A share of 0 means this
 * coordinator defers every call to the participant and leaves them to the others (more coordinators
 * than the limit allows calls).
 */
export function shareOf(
  limits: { maxConcurrency: number | null; ratePerSecond: number | null },
  coordinators: number,
  rank: number,
): LimitShare {
  const n = Math.max(1, coordinators);
  const r = Math.min(Math.max(0, rank), n - 1);
  const max = limits.maxConcurrency;
  return {
    maxConcurrency: max === null ? null : Math.floor(max / n) + (r < max % n ? 1 : 0),
    ratePerSecond: limits.ratePerSecond === null ? null : limits.ratePerSecond / n,
  };
}
