import type { TransactionView } from '../api/wire-types';
import { AttentionBadge, StatusBadge } from '../components/badges';
import { formatDuration, formatTime, millisBetween } from '../components/format';
import { SETTLED_STATUSES } from '../api/vocabulary';
import { decisionOf } from './transaction-facts';

/** Who, what, when, and why it ended as it did; the first error stands out when there is one. */
export function TransactionHeader({ view }: { view: TransactionView }) {
  const settled = SETTLED_STATUSES.includes(view.status);
  const decision = decisionOf(view);
  const { firstError } = view;
  return (
    <section className="transaction-header" data-testid="transaction-header">
      <h1 className="mono" data-testid="transaction-id">
        {view.id}
      </h1>
      <div className="header-badges">
        <StatusBadge status={view.status} />
        <AttentionBadge attention={view.attention} />
      </div>
      <dl className="facts">
        <dt>protocol</dt>
        <dd>{view.protocol}</dd>
        <dt>mode</dt>
        <dd>{view.mode}</dd>
        <dt>created</dt>
        <dd>{formatTime(view.createdAt)}</dd>
        <dt>updated</dt>
        <dd>{formatTime(view.updatedAt)}</dd>
        <dt>duration</dt>
        <dd>
          {formatDuration(millisBetween(view.createdAt, settled ? view.updatedAt : null))}
          {settled ? '' : ' so far'}
        </dd>
        <dt>deadline</dt>
        <dd>{formatTime(view.deadline)}</dd>
        <dt>decision</dt>
        <dd data-testid="decision">
          {decision ? (
            <>
              <strong>{decision.decision}</strong>
              {decision.event && ` (logged as event #${decision.event.seq}, ${formatTime(decision.event.at)})`}
            </>
          ) : (
            <span className="muted">none yet</span>
          )}
        </dd>
        <dt>retry</dt>
        <dd>
          {view.retry.maxAttempts} attempts, backoff {view.retry.initialBackoffMs}–{view.retry.maxBackoffMs} ms
        </dd>
        {view.check && (
          <>
            <dt>check</dt>
            <dd data-testid="message-check">
              {view.check.participant} {view.check.path} after {view.check.checkAfterMs} ms: {view.check.status}
              {view.check.attempt > 0 && `, asked ${view.check.attempt}×`}
              {view.check.nextAttemptAt && `, next ${formatTime(view.check.nextAttemptAt)}`}
              {view.check.lastError && ` (last error: ${view.check.lastError})`}
            </dd>
          </>
        )}
      </dl>
      {firstError && (
        <p className="first-error" data-testid="first-error">
          <strong>First error</strong> ({firstError.branchId} {firstError.phase}, attempt {firstError.attempt},{' '}
          {formatTime(firstError.at)}): {firstError.error}
        </p>
      )}
      {view.error && (
        <p className="end-error" data-testid="transaction-error">
          <strong>{errorLabel(view)}</strong> {view.error}
        </p>
      )}
    </section>
  );
}

/** What the transaction's error is to it: why it failed or ended, or why it is being undone now. */
function errorLabel(view: TransactionView): string {
  if (view.status === 'failed') return 'Failed because:';
  if (SETTLED_STATUSES.includes(view.status)) return 'Ended because:';
  return view.decision === 'abort' ? 'Aborting because:' : 'Error:';
}
