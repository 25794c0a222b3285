import type { AttemptView, TransactionView } from '../api/wire-types';
import { formatTime } from '../components/format';
import { PROTOCOL_PHASES } from '../api/vocabulary';
import { decisionOf } from './transaction-facts';

/**
 * TCC / 2PC / 3PC: one row per branch (participant), one column per phase; each cell is the last
 * outcome of that phase's attempts. Beside it, the decision and the log event that made it durable.
 */
export function VoteMatrix({ view }: { view: TransactionView }) {
  const phases = PROTOCOL_PHASES[view.protocol];
  const decision = decisionOf(view);
  return (
    <section data-testid="vote-matrix">
      <h2>Votes and completions</h2>
      <table className="vote-matrix">
        <thead>
          <tr>
            <th>branch</th>
            <th>participant</th>
            {phases.map((phase) => (
              <th key={phase}>{phase}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {view.branches.map((branch) => (
            <tr key={branch.id}>
              <td className="mono">{branch.id}</td>
              <td>{branch.participant}</td>
              {phases.map((phase) => (
                <VoteCell
                  key={phase}
                  attempts={view.attempts.filter((a) => a.branchId === branch.id && a.phase === phase)}
                />
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      <p data-testid="vote-decision">
        Decision:{' '}
        {decision ? (
          <>
            <strong>{decision.decision}</strong>
            {decision.event &&
              `, logged as event #${decision.event.seq} (${decision.event.type}) at ${formatTime(decision.event.at)}`}
          </>
        ) : (
          <span className="muted">not taken yet</span>
        )}
      </p>
    </section>
  );
}

function VoteCell({ attempts }: { attempts: AttemptView[] }) {
  if (attempts.length === 0) return <td className="vote vote-none">—</td>;
  const last = attempts.reduce((a, b) => (b.attempt > a.attempt ? b : a));
  const outcome = last.finishedAt === null ? 'in flight' : (last.outcome ?? 'unknown');
  return (
    <td className={`vote vote-${outcome.replace(' ', '-')}`} title={last.error ?? undefined} data-outcome={outcome}>
      {outcome}
      {attempts.length > 1 && <span className="muted"> ({attempts.length} attempts)</span>}
    </td>
  );
}
