import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { ValidationError, type StatsView, type StatsWindow } from '#contracts';
import { readStats } from '#store';
import { PG_POOL } from '../tokens';

/** The windows `GET /v1/stats` offers, with their bucket sizes. */
const WINDOWS: Record<string, { ms: number; bucketSeconds: number }> = {
  '15m': { ms: 15 * 60_000, bucketSeconds: 60 },
  '1h': { ms: 60 * 60_000, bucketSeconds: 60 },
  '6h': { ms: 6 * 60 * 60_000, bucketSeconds: 300 },
  '24h': { ms: 24 * 60 * 60_000, bucketSeconds: 900 },
};

/** Dashboards poll the overview: one read per window serves every caller for this long. */
const FRESH_MS = 2_000;

/** `GET /v1/stats`: the overview of a window, read from the log. */
@Injectable()
export class StatsService {
  private readonly recent = new Map<string, { at: number; view: Promise<StatsView> }>();

  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async stats(window: string = '1h'): Promise<StatsView> {
    const w = WINDOWS[window];
    if (!w) {
      const rule = `must be one of ${Object.keys(WINDOWS).join(', ')}`;
      throw new ValidationError(`window is invalid: ${rule}`, [{ field: 'window', rule }]);
    }
    const hit = this.recent.get(window);
    if (hit && Date.now() - hit.at < FRESH_MS) return hit.view;
    const view = this.read(window, w);
    this.recent.set(window, { at: Date.now(), view });
    view.catch(() => this.recent.delete(window));
    return view;
  }

  private async read(window: string, w: { ms: number; bucketSeconds: number }): Promise<StatsView> {
    const bucketMs = w.bucketSeconds * 1000;
    const to = new Date();
    // whole buckets, the last one holding now
    const from = new Date(Math.floor((to.getTime() - w.ms) / bucketMs) * bucketMs + bucketMs);
    const rows = await readStats(this.pool, from, w.bucketSeconds);
    const series = new Map<number, StatsView['series'][number]>();
    for (let t = from.getTime(); t <= to.getTime(); t += bucketMs) {
      series.set(t, { at: new Date(t).toISOString(), started: 0, committed: 0, aborted: 0, failed: 0 });
    }
    for (const r of rows.started) {
      const b = series.get(r.at.getTime());
      if (b) b.started += r.n;
    }
    for (const r of rows.settled) {
      const b = series.get(r.at.getTime());
      if (b) b[r.status as 'committed' | 'aborted' | 'failed'] += r.n;
    }
    const attention = { healthy: 0, retrying: 0, compensating: 0, waiting: 0, failed: 0 };
    for (const r of rows.attention)
      if (r.attention in attention) attention[r.attention as keyof typeof attention] = r.n;
    return {
      window: window as StatsWindow,
      from: from.toISOString(),
      to: to.toISOString(),
      bucketSeconds: w.bucketSeconds,
      series: [...series.values()],
      inFlight: rows.inFlight.map((r) => ({ protocol: r.protocol, status: r.status, count: r.n })),
      attention,
      duration: {
        count: rows.duration.count,
        p50Ms: rows.duration.p50 === null ? null : Math.round(rows.duration.p50),
        p99Ms: rows.duration.p99 === null ? null : Math.round(rows.duration.p99),
      },
      failingParticipants: rows.failing,
      topErrors: rows.topErrors as StatsView['topErrors'],
    };
  }
}
