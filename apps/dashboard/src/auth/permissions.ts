import type { WhoAmI } from '../api/wire-types';

/** What the signed-in key may do in the dashboard: buttons it may not use are not shown. */
export interface Permissions {
  /** Transactions, participants, stats and the live stream: every page but Keys (a participant key reads none). */
  read: boolean;
  /** Replay, retry now, abort any transaction, bulk replay. */
  operate: boolean;
  /** Abort the transactions this key started (a client's right; operators abort any). */
  abortOwn: boolean;
  /** The Keys page. */
  manageKeys: boolean;
}

/** Open mode acts as admin; otherwise the role decides (docs/operator-api.md "Access control"). */
export function permissionsOf(me: WhoAmI): Permissions {
  if (me.open) return { read: true, operate: true, abortOwn: true, manageKeys: true };
  return {
    read: me.role !== 'participant',
    operate: me.role === 'operator' || me.role === 'admin',
    abortOwn: me.role === 'client' || me.role === 'operator' || me.role === 'admin',
    manageKeys: me.role === 'admin',
  };
}
