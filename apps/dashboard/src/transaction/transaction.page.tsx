import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import type { TransactionView } from '../api/wire-types';
import { useSession } from '../auth/session';
import { ProblemMessage } from '../components/problem-message';
import { useTransactionEvents } from '../live/transaction-events';
import { AttemptTimeline } from './attempt-timeline';
import { BranchesSection } from './branches-section';
import { EventLog } from './event-log';
import { OperatorActions } from './operator-actions';
import { SagaDag } from './saga-dag';
import { TransactionHeader } from './transaction-header';
import { VoteMatrix } from './vote-matrix';
import { refreshWhileInFlight } from '../live/in-flight-refresh';

/**
 * `/transactions/:id`: everything about one transaction, fetched again on each of its live events,
 * and every few seconds while it is in flight (a branch starting to retry is not a status change).
 */
export function TransactionPage() {
  const { id = '' } = useParams();
  const { api } = useSession();
  const queryClient = useQueryClient();
  const transaction = useQuery({
    queryKey: ['transaction', id],
    queryFn: ({ signal }) => api.get<TransactionView>(`/v1/transactions/${encodeURIComponent(id)}`, signal),
    refetchInterval: (query) =>
      refreshWhileInFlight(query.state.data && [query.state.data.status], query.state.status === 'error'),
    refetchIntervalInBackground: true,
  });
  useTransactionEvents((event) => {
    if (event.id === id) void queryClient.invalidateQueries({ queryKey: ['transaction', id] });
  });

  const view = transaction.data;
  return (
    <div data-testid="transaction-page">
      <p className="breadcrumb">
        <Link to="/transactions">← Transactions</Link>
      </p>
      <ProblemMessage error={transaction.error} shownSince={view && transaction.dataUpdatedAt} />
      {transaction.isPending && <p className="muted">Loading…</p>}
      {view && (
        <>
          <TransactionHeader view={view} />
          <OperatorActions view={view} />
          {view.protocol === 'saga' ? (
            <SagaDag branches={view.branches} parked={view.status === 'failed'} />
          ) : (
            <VoteMatrix view={view} />
          )}
          <AttemptTimeline view={view} />
          <BranchesSection branches={view.branches} />
          <EventLog events={view.events} />
        </>
      )}
    </div>
  );
}
