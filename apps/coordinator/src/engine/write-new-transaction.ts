import type { Logger } from '@nestjs/common';
import { StoreUnavailableError, ValidationError, storableText } from '#contracts';
import { isTransientStoreError, type CreateOp, type StoreResult, type TransactionStore } from '#store';

/** How long a new transaction's write is retried through a database outage before the start answers 503. */
const CREATE_RETRY_MS = 10_000;

/**
 * Writes a new transaction. An unknown outcome (the connection broke) is retried, and an `exists`
 * or `key-taken` that follows one is checked: if the row is the one this call wrote, it is ours
 * (`ok` while this instance still owns it untouched, `taken` once another took it over).
 * A write Postgres refuses for its content is the request's fault (422); an outage is 503.
 */
export async function writeNewTransaction(
  store: TransactionStore,
  op: CreateOp,
  logger: Logger,
): Promise<StoreResult | 'taken'> {
  const until = Date.now() + CREATE_RETRY_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await store.apply(op);
      if (attempt === 0 || (result !== 'exists' && result !== 'key-taken')) return result;
      const row = await store.load(op.txn.id);
      const ours =
        row?.txn.requestHash === op.txn.requestHash && row.txn.createdAt.getTime() === op.txn.createdAt.getTime();
      if (!ours) return result;
      return row.txn.version === 1 && row.txn.owner === op.txn.owner ? 'ok' : 'taken';
    } catch (error) {
      if (!isTransientStoreError(error)) {
        throw new ValidationError(`the transaction cannot be stored: ${storableText(String(error))}`, [
          { field: 'body', rule: 'must be storable (Postgres refused it)' },
        ]);
      }
      if (Date.now() > until) throw new StoreUnavailableError(String(error));
      logger.warn(`transaction ${op.txn.id}: create failed (try ${attempt + 1}), retrying: ${error}`);
      await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)));
    }
  }
}
