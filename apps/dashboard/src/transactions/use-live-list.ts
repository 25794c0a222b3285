import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo } from 'react';
import type { Attention, StatusEvent, TransactionPage } from '../api/wire-types';
import { throttle } from '../components/throttle';
import { useTransactionEvents } from '../live/transaction-events';

const REFETCH_AT_MOST_EVERY_MS = 500;

/**
 * Keeps the loaded list pages current from the live stream: a status event patches its row in
 * place at once, and the newest page (`firstPagePath`, null when an older page is shown) is fetched
 * again, at most every 500 ms, so new transactions that match the filters appear at the top.
 */
export function useLiveList(firstPagePath: string | null): void {
  const queryClient = useQueryClient();
  const refetchFirstPage = useMemo(
    () =>
      throttle(() => {
        if (firstPagePath)
          void queryClient.invalidateQueries({ queryKey: ['transactions', firstPagePath], exact: true });
      }, REFETCH_AT_MOST_EVERY_MS),
    [queryClient, firstPagePath],
  );
  useEffect(() => () => refetchFirstPage.cancel(), [refetchFirstPage]);

  useTransactionEvents((event) => {
    queryClient.setQueriesData<TransactionPage>({ queryKey: ['transactions'] }, (page) => patchRow(page, event));
    refetchFirstPage();
  });
}

function patchRow(page: TransactionPage | undefined, event: StatusEvent): TransactionPage | undefined {
  if (!page || !page.items.some((t) => t.id === event.id)) return page;
  return {
    ...page,
    items: page.items.map((t) =>
      t.id === event.id && Date.parse(event.updatedAt) >= Date.parse(t.updatedAt)
        ? { ...t, status: event.status, updatedAt: event.updatedAt, attention: settledAttention(event) ?? t.attention }
        : t,
    ),
  };
}

/** A settled status fixes the attention state; an in-flight one needs the refetch to tell. */
function settledAttention(event: StatusEvent): Attention | null {
  if (event.status === 'failed') return 'failed';
  if (event.status === 'committed' || event.status === 'aborted') return 'done';
  return null;
}
