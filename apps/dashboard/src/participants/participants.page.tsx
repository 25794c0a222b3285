import { useQuery } from '@tanstack/react-query';
import { Fragment, useState } from 'react';
import { Link } from 'react-router';
import type { ParticipantInstanceView, ParticipantView } from '../api/wire-types';
import { useSession } from '../auth/session';
import { formatPercent, formatTime } from '../components/format';
import { ProblemMessage } from '../components/problem-message';
import { BulkReplayDialog } from './bulk-replay-dialog';

/**
 * `/participants`: health, load and failures of each registered participant, with each of its
 * instances (lease, circuit, error rate, latency); bulk replay per participant.
 */
export function ParticipantsPage() {
  const { api, permissions } = useSession();
  const [replaying, setReplaying] = useState<string | null>(null);
  const participants = useQuery({
    queryKey: ['participants'],
    queryFn: ({ signal }) => api.get<{ items: ParticipantView[] }>('/v1/participants', signal),
    refetchInterval: 5_000,
  });

  return (
    <div data-testid="participants-page">
      <div className="page-title">
        <h1>Participants</h1>
      </div>
      <ProblemMessage error={participants.error} shownSince={participants.data && participants.dataUpdatedAt} />
      {participants.data && participants.data.items.length === 0 && <p className="muted">No participant registered.</p>}
      {participants.data && participants.data.items.length > 0 && (
        <div className="scroll-x">
          <table className="participants" data-testid="participants-table">
            <thead>
              <tr>
                <th>name</th>
                <th>url</th>
                <th>status</th>
                <th>circuit</th>
                <th>protection</th>
                <th className="number">calls/min</th>
                <th className="number">error rate</th>
                <th className="number">p50</th>
                <th className="number">p99</th>
                <th>last error</th>
                <th className="number">in flight</th>
                <th className="number">failed</th>
                {permissions.operate && <th />}
              </tr>
            </thead>
            <tbody>
              {participants.data.items.map((p) => (
                <Fragment key={p.name}>
                  <tr data-testid="participant-row" data-name={p.name}>
                    <td>
                      <Link to={`/transactions?participant=${encodeURIComponent(p.name)}`}>{p.name}</Link>
                    </td>
                    <td className="mono small">{p.url}</td>
                    <td>
                      <span className={`badge participant-${p.status}`} title={`last seen ${formatTime(p.lastSeenAt)}`}>
                        {p.status}
                      </span>
                    </td>
                    <td>
                      <span className={`badge circuit-${p.circuit}`}>{p.circuit}</span>
                    </td>
                    <td className="small">{protection(p)}</td>
                    <td className="number">{p.calls ?? '—'}</td>
                    <td className="number">{formatPercent(p.errorRate)}</td>
                    <td className="number">{millis(p.latencyP50Ms)}</td>
                    <td className="number">{millis(p.latencyP99Ms)}</td>
                    <td className="error-text">{p.lastError ?? ''}</td>
                    <td className="number">
                      <Link
                        to={`/transactions?participant=${encodeURIComponent(p.name)}&status=pending,prepared,running,committing,aborting`}
                      >
                        {p.inFlightTransactions ?? '—'}
                      </Link>
                    </td>
                    <td className="number">
                      <Link
                        to={`/transactions?participant=${encodeURIComponent(p.name)}&attention=failed`}
                        className={p.failedTransactions ? 'failed-count' : undefined}
                        data-testid="failed-transactions-link"
                      >
                        {p.failedTransactions ?? '—'}
                      </Link>
                    </td>
                    {permissions.operate && (
                      <td>
                        <button
                          onClick={() => setReplaying(p.name)}
                          disabled={p.failedTransactions === 0}
                          aria-label={`Replay the failed transactions of ${p.name}…`}
                          data-testid="bulk-replay-button"
                        >
                          Replay failed…
                        </button>
                      </td>
                    )}
                  </tr>
                  {(p.instances ?? []).length > 0 && (
                    <tr data-testid="participant-instances" data-name={p.name}>
                      <td />
                      <td colSpan={permissions.operate ? 12 : 11}>
                        <InstancesTable instances={p.instances} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {replaying && <BulkReplayDialog participant={replaying} onClose={() => setReplaying(null)} />}
    </div>
  );
}

/** A participant's instances: where each runs, its lease, its circuit and how its calls go. */
function InstancesTable({ instances }: { instances: ParticipantInstanceView[] }) {
  return (
    <table className="instances" data-testid="instances-table">
      <thead>
        <tr>
          <th>instance</th>
          <th>url</th>
          <th>status</th>
          <th>circuit</th>
          <th>lease until</th>
          <th className="number">calls/min</th>
          <th className="number">error rate</th>
          <th className="number">p50</th>
          <th className="number">p99</th>
          <th className="number">in flight</th>
        </tr>
      </thead>
      <tbody>
        {instances.map((i) => (
          <tr key={i.instanceId} data-testid="instance-row" data-instance={i.instanceId} data-status={i.status}>
            <td className="mono small">{i.instanceId}</td>
            <td className="mono small">{i.url}</td>
            <td>
              <span className={`badge instance-${i.status}`} title={`last seen ${formatTime(i.lastSeenAt)}`}>
                {i.status}
              </span>
            </td>
            <td>
              <span
                className={`badge circuit-${i.circuit}`}
                title={i.circuitChangedAt ? `since ${formatTime(i.circuitChangedAt)}` : undefined}
              >
                {i.circuit}
              </span>
            </td>
            <td className="small">{i.expiresAt ? formatTime(i.expiresAt) : 'no lease'}</td>
            <td className="number">{i.calls}</td>
            <td className="number">{formatPercent(i.errorRate)}</td>
            <td className="number">{millis(i.latencyP50Ms)}</td>
            <td className="number">{millis(i.latencyP99Ms)}</td>
            <td className="number">{i.inFlightCalls}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The participant's limits and whether it replays on its own, in a few words. */
function protection(p: ParticipantView): string {
  const parts: string[] = [];
  if (p.maxConcurrency !== null && p.maxConcurrency !== undefined) parts.push(`≤ ${p.maxConcurrency} in flight`);
  if (p.ratePerSecond !== null && p.ratePerSecond !== undefined) parts.push(`≤ ${p.ratePerSecond}/s`);
  if (p.autoReplay) parts.push('auto-replay');
  return parts.length ? parts.join(', ') : '—';
}

function millis(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : `${Math.round(value)} ms`;
}
