import { BusinessRejection } from '#participant';
import type { LedgerServiceSpec } from '../ledger/ledger-service';

/**
 * The accounts service: `demo_accounts(id, balance)`. Payload `{account, delta}`: the action adds
 * `delta` (negative = debit) to the balance, refused when the account is unknown or would go negative.
 */
export const ACCOUNTS: LedgerServiceSpec = {
  collection: 'accounts',
  table: 'demo_accounts',
  keyColumn: 'id',
  amountColumn: 'balance',
  amountType: 'bigint',
  holdsTable: 'demo_holds',
  holdKeyColumn: 'account',
  barrierTable: 'demo_accounts_barrier',
  threePhaseTable: 'demo_accounts_3pc',
  keyField: 'id',
  amountField: 'balance',
  noun: 'account',
  changeOf(payload) {
    const p = (payload ?? {}) as Record<string, unknown>;
    if (typeof p.account !== 'string' || p.account.length === 0)
      throw new BusinessRejection('payload.account must be a non-empty string');
    if (!Number.isSafeInteger(p.delta)) throw new BusinessRejection('payload.delta must be an integer');
    return { key: p.account, delta: p.delta as number };
  },
};
