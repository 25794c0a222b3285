import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import type { Stats, StatsWindow } from '../api/wire-types';
import { useSession } from '../auth/session';
import { ATTENTION_MEANING } from '../components/badges';
import { bucketName, formatDuration } from '../components/format';
import { ProblemMessage } from '../components/problem-message';
import { StatsTables } from './stats-tables';
import { ThroughputChart } from './throughput-chart';

const WINDOWS: StatsWindow[] = ['15m', '1h', '6h', '24h'];
const ATTENTION_ORDER = ['healthy', 'retrying', 'compensating', 'waiting', 'failed'] as const;

/** `/`: what happened in the window, what is in flight, and what needs an operator. */
export function OverviewPage() {
  const { api } = useSession();
  const [statsWindow, setStatsWindow] = useState<StatsWindow>('1h');
  const stats = useQuery({
    queryKey: ['stats', statsWindow],
    queryFn: ({ signal }) => api.get<Stats>(`/v1/stats?window=${statsWindow}`, signal),
    refetchInterval: 5_000,
  });

  return (
    <div data-testid="overview-page">
      <div className="page-title">
        <h1>Overview</h1>
        <label>
          Window{' '}
          <select
            value={statsWindow}
            onChange={(e) => setStatsWindow(e.target.value as StatsWindow)}
            data-testid="stats-window"
          >
            {WINDOWS.map((w) => (
              <option key={w}>{w}</option>
            ))}
          </select>
        </label>
      </div>
      <ProblemMessage error={stats.error} shownSince={stats.data && stats.dataUpdatedAt} />
      {stats.data && <OverviewBody stats={stats.data} />}
      {stats.isPending && <p className="muted">Loading…</p>}
    </div>
  );
}

function OverviewBody({ stats }: { stats: Stats }) {
  const failed = stats.attention.failed ?? 0;
  return (
    <>
      {failed > 0 && (
        <Link to="/transactions?attention=failed" className="banner banner-danger" data-testid="failed-banner">
          {failed} {failed === 1 ? 'transaction' : 'transactions'} failed and need{failed === 1 ? 's' : ''} an operator
          →
        </Link>
      )}
      <section className="cards" aria-label="attention">
        {ATTENTION_ORDER.map((state) => (
          <Link
            key={state}
            to={`/transactions?attention=${state}`}
            className={`card attention-card attention-card-${state}`}
            title={ATTENTION_MEANING[state]}
            data-testid={`attention-${state}`}
          >
            <span className="card-number">{stats.attention[state] ?? 0}</span>
            <span className="card-label">{state}</span>
          </Link>
        ))}
        <div className="card">
          <span className="card-number">{formatDuration(stats.duration.p50Ms)}</span>
          <span className="card-label">p50 duration</span>
        </div>
        <div className="card">
          <span className="card-number">{formatDuration(stats.duration.p99Ms)}</span>
          <span className="card-label">p99 duration ({stats.duration.count} settled)</span>
        </div>
      </section>
      <section>
        <h2>Transactions per {bucketName(stats.bucketSeconds)}</h2>
        <ThroughputChart series={stats.series} bucketSeconds={stats.bucketSeconds} />
      </section>
      <StatsTables stats={stats} />
    </>
  );
}
