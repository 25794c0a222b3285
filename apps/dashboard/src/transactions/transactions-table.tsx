import { Link } from 'react-router';
import type { TransactionSummary } from '../api/wire-types';
import { AttentionBadge, StatusBadge } from '../components/badges';
import { formatDuration, formatTime, millisBetween } from '../components/format';
import { SETTLED_STATUSES } from '../api/vocabulary';

/**
 * One row per transaction, newest first; a row's status is patched in place by the live stream.
 * `busy`: the rows are the previous query's, shown while the new one loads.
 */
export function TransactionsTable({ items, busy }: { items: TransactionSummary[]; busy: boolean }) {
  if (items.length === 0)
    return (
      <p className="muted" data-testid="no-transactions">
        No transactions match.
      </p>
    );
  return (
    // a long id (up to 128 characters) scrolls the table in place, not the page past the window
    <div className="scroll-x">
      <table className="transactions" data-testid="transactions-table" aria-busy={busy}>
        <thead>
          <tr>
            <th>id</th>
            <th>protocol</th>
            <th>status</th>
            <th>attention</th>
            <th>participants</th>
            <th>created</th>
            <th className="number">duration</th>
          </tr>
        </thead>
        <tbody>
          {items.map((t) => {
            const settled = SETTLED_STATUSES.includes(t.status);
            return (
              <tr key={t.id} data-testid="transaction-row" data-id={t.id} data-status={t.status}>
                <td>
                  <Link to={`/transactions/${encodeURIComponent(t.id)}`} className="mono">
                    {t.id}
                  </Link>
                </td>
                <td>{t.protocol}</td>
                <td>
                  <StatusBadge status={t.status} />
                  {t.attention === 'retrying' && <AttentionBadge attention="retrying" />}
                </td>
                <td>
                  <AttentionBadge attention={t.attention} />
                </td>
                <td>{t.participants.join(', ')}</td>
                <td className="nowrap">{formatTime(t.createdAt)}</td>
                <td className="number nowrap">
                  {settled ? formatDuration(millisBetween(t.createdAt, t.updatedAt)) : 'in flight'}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
