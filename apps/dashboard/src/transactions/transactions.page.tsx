import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { useSearchParams } from 'react-router';
import type { TransactionPage } from '../api/wire-types';
import { useSession } from '../auth/session';
import { ProblemMessage } from '../components/problem-message';
import { filtersFromSearch, listPath, searchFromFilters, type ListFilters } from './list-filters';
import { TransactionFilters } from './transaction-filters';
import { TransactionsTable } from './transactions-table';
import { useLiveList } from './use-live-list';
import { refreshWhileInFlight } from '../live/in-flight-refresh';

/** `/transactions`: filtered, keyset-paginated, newest first, kept live by the stream. */
export function TransactionsPage() {
  const { api } = useSession();
  const [searchParams, setSearchParams] = useSearchParams();
  const searchKey = searchParams.toString();
  const { filters, cursor } = useMemo(() => {
    const search = new URLSearchParams(searchKey);
    return { filters: filtersFromSearch(search), cursor: search.get('cursor') };
  }, [searchKey]);
  const path = listPath(filters, cursor);

  const page = useQuery({
    queryKey: ['transactions', path],
    queryFn: ({ signal }) => api.get<TransactionPage>(path, signal),
    placeholderData: keepPreviousData,
    refetchInterval: (query) =>
      refreshWhileInFlight(
        query.state.data?.items.map((t) => t.status),
        query.state.status === 'error',
      ),
    refetchIntervalInBackground: true,
  });
  useLiveList(cursor === null ? path : null);

  const show = (next: ListFilters, nextCursor: string | null = null) =>
    setSearchParams(searchFromFilters(next, nextCursor));

  return (
    <div data-testid="transactions-page">
      <div className="page-title">
        <h1>Transactions</h1>
        {cursor && <span className="muted">older page</span>}
      </div>
      <TransactionFilters filters={filters} onChange={(next) => show(next)} />
      <ProblemMessage error={page.error} shownSince={page.data && page.dataUpdatedAt} />
      {page.isPending && <p className="muted">Loading…</p>}
      {page.data && <TransactionsTable items={page.data.items} busy={page.isPlaceholderData} />}
      <div className="pager">
        {cursor && (
          <button onClick={() => show(filters)} data-testid="newest-page">
            ← Newest
          </button>
        )}
        {page.data?.nextCursor && (
          <button onClick={() => show(filters, page.data.nextCursor)} data-testid="next-page">
            Next page →
          </button>
        )}
      </div>
    </div>
  );
}
