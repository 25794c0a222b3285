import { ForbiddenError, TransactionNotFoundError } from '#contracts';
import type { TransactionStore } from '#store';
import type { Caller } from './caller';
import { mayAbortAny } from './permissions';

/**
 * A `client` key acts only on the transactions it started (the actor of `transaction.created`):
 * abort, and an interactive transaction's branches and commit. Operators and admins act on any.
 */
export async function assertMayActOn(store: TransactionStore, id: string, caller: Caller, what: string): Promise<void> {
  if (mayAbortAny(caller.role)) return;
  const events = await store.events(id);
  if (events.length === 0) throw new TransactionNotFoundError(id);
  const created = events.find((e) => e.type === 'transaction.created');
  if (created?.detail?.actor !== caller.name) {
    throw new ForbiddenError(
      `the key "${caller.name}" (role ${caller.role}) may ${what} only the transactions it started`,
    );
  }
}
