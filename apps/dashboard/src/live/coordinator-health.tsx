import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';

/** How often the dashboard asks the coordinator whether its database and queue answer. */
const HEALTH_POLL_MS = 10_000;

/** What `/health/ready` said last: every dependency up, some down (named), or no answer at all. */
export type CoordinatorHealth = { kind: 'ready' } | { kind: 'degraded'; down: string[] } | { kind: 'unknown' };

/**
 * The coordinator's readiness, asked every {@link HEALTH_POLL_MS}. A page that shows nothing in
 * flight makes no request of its own, and the live stream stays open while the coordinator cannot
 * reach its database (it only goes quiet), so without this an outage would look like a quiet system.
 * Once everything answers again, transaction queries are fetched again.
 */
export function useCoordinatorHealth(): CoordinatorHealth {
  const [health, setHealth] = useState<CoordinatorHealth>({ kind: 'unknown' });
  const queryClient = useQueryClient();
  const wasDegraded = useRef(false);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ask = async () => {
      const next = await readiness();
      if (stopped) return;
      if (next.kind === 'degraded') wasDegraded.current = true;
      if (next.kind === 'ready' && wasDegraded.current) {
        wasDegraded.current = false;
        void queryClient.invalidateQueries({ queryKey: ['transactions'] });
        void queryClient.invalidateQueries({ queryKey: ['transaction'] });
      }
      setHealth(next);
      timer = setTimeout(() => void ask(), HEALTH_POLL_MS);
    };
    void ask();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [queryClient]);
  return health;
}

/** One readiness check: its 503 body names each check that is down (terminus's `error` map). */
async function readiness(): Promise<CoordinatorHealth> {
  try {
    const res = await fetch('/health/ready', { cache: 'no-store' });
    if (res.ok) return { kind: 'ready' };
    const body = (await res.json().catch(() => null)) as { error?: Record<string, unknown> } | null;
    const down = Object.keys(body?.error ?? {});
    return res.status === 503 && down.length > 0 ? { kind: 'degraded', down } : { kind: 'unknown' };
  } catch {
    // no answer: the stream's state already says the coordinator is out of reach
    return { kind: 'unknown' };
  }
}

const WHAT_IS_DOWN: Record<string, string> = {
  postgres: 'its database (Postgres)',
  queue: 'its wake-up queue',
};

/** A banner while the coordinator says a dependency is down; nothing otherwise. */
export function CoordinatorHealthBanner({ health }: { health: CoordinatorHealth }) {
  if (health.kind !== 'degraded') return null;
  const what = health.down.map((name) => WHAT_IS_DOWN[name] ?? name).join(' and ');
  return (
    <div className="banner banner-danger" role="alert" data-testid="health-banner" data-down={health.down.join(',')}>
      The coordinator cannot reach {what}: what this page shows may be out of date, and actions fail until it is back.
      Nothing acknowledged is lost; transactions carry on once it answers.
    </div>
  );
}
