import type { LoggerService } from '@nestjs/common';
import {
  PermanentStoreError,
  isTransientStoreError,
  type AdvanceOp,
  type StoreResult,
  type TransactionStore,
} from '#store';

/**
 * Writes a driver's step until Postgres answers, while `active()` holds (an instance that loses
 * Postgres fences itself and stops its drivers); the op is built by `build` when the log takes it.
 * When an earlier try may have committed before its answer was lost, a `stale` answer is checked
 * against the row before it is believed: the step landed if the row is at the next version with the
 * step's events after `lastSeq`. An error that retrying cannot fix is thrown as
 * {@link PermanentStoreError}: nothing was written.
 */
export async function writeStep(
  store: TransactionStore,
  build: () => AdvanceOp,
  lastSeq: number,
  active: () => boolean,
  logger: LoggerService,
): Promise<StoreResult> {
  // built once, when the log cuts the first try's batch; a retry writes the same op
  let built: AdvanceOp | null = null;
  const op = () => (built ??= build());
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await (attempt === 0 ? store.applyBuiltAtCut(op) : store.apply(op()));
      if (result !== 'stale' || attempt === 0) return result;
      const now = await store.load(op().id);
      const landed = now && now.txn.version === op().version + 1 && now.lastSeq >= lastSeq + op().events.length;
      return landed ? 'ok' : 'stale';
    } catch (error) {
      if (!active()) return 'stale';
      if (!isTransientStoreError(error)) throw PermanentStoreError.of(error);
      logger.warn(`transaction ${op().id}: log write failed (try ${attempt + 1}), retrying: ${error}`);
      await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)));
    }
  }
}
