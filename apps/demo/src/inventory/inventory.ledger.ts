import { BusinessRejection } from '#participant';
import type { LedgerServiceSpec } from '../ledger/ledger-service';

/**
 * The inventory service: `demo_stock(sku, available)`. Payload `{sku, quantity}`: the action takes
 * `quantity` from stock, refused when the sku is unknown or stock is insufficient.
 */
export const INVENTORY: LedgerServiceSpec = {
  collection: 'stock',
  table: 'demo_stock',
  keyColumn: 'sku',
  amountColumn: 'available',
  amountType: 'integer',
  holdsTable: 'demo_stock_holds',
  holdKeyColumn: 'sku',
  barrierTable: 'demo_stock_barrier',
  threePhaseTable: 'demo_stock_3pc',
  keyField: 'sku',
  amountField: 'available',
  noun: 'sku',
  changeOf(payload) {
    const p = (payload ?? {}) as Record<string, unknown>;
    if (typeof p.sku !== 'string' || p.sku.length === 0)
      throw new BusinessRejection('payload.sku must be a non-empty string');
    if (!Number.isSafeInteger(p.quantity) || (p.quantity as number) < 0 || (p.quantity as number) > 2 ** 31 - 1)
      throw new BusinessRejection('payload.quantity must be a non-negative integer');
    return { key: p.sku, delta: -(p.quantity as number) };
  },
};
