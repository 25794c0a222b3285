import { CoordinatorError } from '#contracts';
import { isTransientStoreError } from '#store';

/**
 * Pauses between the tries of one key write: about 15 s in all, long enough for a Postgres restart.
 * The client waits meanwhile, and gets the real answer rather than a 503 whose repeat must then find
 * the key claimed with no answer.
 */
const PAUSES_MS = [100, 300, 1_000, 2_000, 4_000, 8_000];

/**
 * Runs a write that settles an Idempotency-Key (storing its first answer, or freeing it), trying
 * again while the log is unavailable (a dropped connection, a Postgres restart): the request's work
 * is done by then, and a key left claimed would make every repeat wait and then answer 409 until
 * the claim goes stale. Any other error, or the last one, is thrown.
 */
export async function settleKey<T>(write: () => Promise<T>, pauses: readonly number[] = PAUSES_MS): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await write();
    } catch (error) {
      const transient = (error instanceof CoordinatorError && error.retryable) || isTransientStoreError(error);
      if (!transient || i >= pauses.length) throw error;
      await new Promise((resolve) => setTimeout(resolve, pauses[i]));
    }
  }
}
