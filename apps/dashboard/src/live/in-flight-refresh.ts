import { SETTLED_STATUSES } from '../api/vocabulary';
import type { TransactionStatus } from '../api/wire-types';

/**
 * How often a page showing a transaction in flight is fetched again. The stream tells status
 * changes only, and a branch that starts retrying (or heals) changes the transaction's attention
 * without changing its status: on a quiet coordinator no event would show it.
 */
export const IN_FLIGHT_REFRESH_MS = 5_000;

/**
 * For a query's `refetchInterval`: every IN_FLIGHT_REFRESH_MS while one of `statuses` is not
 * settled, or while the last fetch failed (a coordinator that answered 503 while its database was
 * away sends no event when it is back: without this the page would show the error, and the rows as
 * they were before it, until the operator reloads).
 */
export function refreshWhileInFlight(
  statuses: readonly TransactionStatus[] | undefined,
  lastFetchFailed: boolean,
): number | false {
  if (lastFetchFailed) return IN_FLIGHT_REFRESH_MS;
  return statuses?.some((s) => !SETTLED_STATUSES.includes(s)) ? IN_FLIGHT_REFRESH_MS : false;
}
