import type { AttemptView, BranchView, TransactionView } from '../api/wire-types';
import { OutcomeBadge } from '../components/badges';
import { formatDuration, formatTime } from '../components/format';
import { PROTOCOL_PHASES, SETTLED_STATUSES } from '../api/vocabulary';
import { onCompensationPath } from './saga-layout';
import { attemptKey, branchLabel, firstFailedAttempt, isFailedAttempt } from './transaction-facts';

/**
 * Every branch, each of its phases, each attempt: when it started, how long it took, what came of
 * it, the HTTP status and the error. A bar places each attempt on the transaction's time line; the
 * first failed attempt is highlighted.
 */
export function AttemptTimeline({ view }: { view: TransactionView }) {
  const start = Date.parse(view.createdAt);
  // in flight: the line runs to now, so a waiting branch's gap shows
  const end = SETTLED_STATUSES.includes(view.status)
    ? Math.max(Date.parse(view.updatedAt), ...view.attempts.map((a) => Date.parse(a.finishedAt ?? a.startedAt)))
    : Date.now();
  const span = Math.max(1, end - start);
  const first = firstFailedAttempt(view);
  const firstKey = first ? attemptKey(first) : null;
  const phases = PROTOCOL_PHASES[view.protocol];

  return (
    <section data-testid="attempt-timeline">
      <h2>Timeline</h2>
      {view.branches.length === 0 && <p className="muted">No branches yet.</p>}
      {view.branches.map((branch) => {
        const attempts = view.attempts.filter((a) => a.branchId === branch.id);
        return (
          <div className="timeline-branch" key={branch.id} data-testid="timeline-branch" data-branch={branch.id}>
            <h3>
              {branch.id} <span className="muted">on {branch.participant}</span>{' '}
              <span
                className={`badge ${onCompensationPath(branch) ? 'branch-compensation' : `branch-${branch.status}`}`}
              >
                {branchLabel(branch, view.status === 'failed')}
              </span>
              <RetryNote branch={branch} />
            </h3>
            {attempts.length === 0 && <p className="muted">Not called.</p>}
            {phases
              .filter((phase) => attempts.some((a) => a.phase === phase))
              .map((phase) => (
                <div className="timeline-phase" key={phase}>
                  <div className="phase-name">{phase}</div>
                  <div className="scroll-x">
                    <table className="attempts">
                      <tbody>
                        {attempts
                          .filter((a) => a.phase === phase)
                          .map((a) => (
                            <AttemptRow
                              key={attemptKey(a)}
                              attempt={a}
                              first={attemptKey(a) === firstKey}
                              bar={barOf(a, start, span)}
                            />
                          ))}
                      </tbody>
                    </table>
                  </div>
                </div>
              ))}
          </div>
        );
      })}
    </section>
  );
}

function AttemptRow({
  attempt,
  first,
  bar,
}: {
  attempt: AttemptView;
  first: boolean;
  bar: { left: string; width: string };
}) {
  const failed = isFailedAttempt(attempt);
  const duration = attempt.finishedAt ? Date.parse(attempt.finishedAt) - Date.parse(attempt.startedAt) : null;
  return (
    <tr
      className={`attempt ${failed ? 'attempt-failed' : ''} ${first ? 'attempt-first-failure' : ''}`}
      data-testid="attempt"
      data-first-failed={first ? 'true' : undefined}
      data-outcome={attempt.outcome ?? 'in-flight'}
    >
      <td className="nowrap">#{attempt.attempt}</td>
      <td className="nowrap">{formatTime(attempt.startedAt)}</td>
      <td className="nowrap number">{duration === null ? 'in flight' : formatDuration(duration)}</td>
      <td>
        <OutcomeBadge outcome={attempt.outcome} />
      </td>
      <td className="nowrap">{attempt.httpStatus === null ? '—' : `HTTP ${attempt.httpStatus}`}</td>
      <td className="error-text" data-testid="attempt-error">
        {first && <strong>first failure: </strong>}
        {attempt.error ?? ''}
      </td>
      <td className="bar-cell">
        <div className="bar-track">
          <div className={`bar outcome-${attempt.outcome ?? 'pending'}`} style={bar} />
        </div>
      </td>
    </tr>
  );
}

function RetryNote({ branch }: { branch: BranchView }) {
  if (!branch.retrying && !branch.nextAttemptAt) return null;
  // a call deferred before it was ever delivered (a limit, an open circuit, no live instance) failed
  // nothing: it is scheduled, not retrying
  if (!branch.retrying) {
    return (
      <span className="badge" data-testid="branch-scheduled">
        next call {formatTime(branch.nextAttemptAt!)}
      </span>
    );
  }
  return (
    <span className="badge attention-retrying" data-testid="branch-retrying" title={branch.lastError ?? undefined}>
      ↻ retrying{branch.nextAttemptAt ? `, next attempt ${formatTime(branch.nextAttemptAt)}` : ''}
    </span>
  );
}

function barOf(a: AttemptView, start: number, span: number): { left: string; width: string } {
  const from = Date.parse(a.startedAt) - start;
  const to = (a.finishedAt ? Date.parse(a.finishedAt) : Date.now()) - start;
  const left = Math.min(99.5, Math.max(0, (from / span) * 100));
  return { left: `${left}%`, width: `${Math.max(0.5, Math.min(100 - left, ((to - from) / span) * 100))}%` };
}
