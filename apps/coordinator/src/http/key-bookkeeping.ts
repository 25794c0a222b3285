import { CoordinatorError } from '#contracts';
import { isTransientStoreError } from '#store';

/** How long a key write is tried again while the log is away: a Postgres restart. */
const SETTLE_WINDOW_MS = 15_000;
/** Pauses between the tries, the last one repeated until the window is over. */
const PAUSES_MS = [100, 300, 1_000, 2_000, 4_000];

export interface SettleTiming {
  windowMs: number;
  pauses: readonly number[];
}

/**
 * Runs a write that settles an Idempotency-Key (storing its first answer, or freeing it), trying
 * again while the log is unavailable (a dropped connection, a Postgres restart): the request's work
 * is done by then, and a key left claimed would make every repeat sent elsewhere wait and then
 * answer 409 until the claim goes stale. The client waits meanwhile, and gets the real answer
 * rather than a 503. No try starts once the window is over, so a log that does not answer at all
 * (each try then lasts DB_QUERY_TIMEOUT_MS) holds the answer for about one try past the window.
 * Any other error, or the last one, is thrown.
 */
export async function settleKey<T>(
  write: () => Promise<T>,
  timing: SettleTiming = { windowMs: SETTLE_WINDOW_MS, pauses: PAUSES_MS },
): Promise<T> {
  const until = Date.now() + timing.windowMs;
  for (let i = 0; ; i++) {
    try {
      return await write();
    } catch (error) {
      const transient = (error instanceof CoordinatorError && error.retryable) || isTransientStoreError(error);
      const pause = timing.pauses[Math.min(i, timing.pauses.length - 1)];
      if (!transient || Date.now() + pause >= until) throw error;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}
