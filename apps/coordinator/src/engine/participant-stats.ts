import type { Outcome } from '#contracts';

const WINDOW = 100;
const MINUTE = 60_000;

interface Recent {
  failures: boolean[];
  lastError: string | null;
  /** Time and duration of the calls of the last minute. */
  calls: { at: number; ms: number }[];
}

/**
 * Recent calls per participant, on this instance: the registry's `errorRate` (share of the last 100
 * calls that got no answer or an error status), `lastError`, and the calls of the last minute with
 * their latency.
 */
export class ParticipantStats {
  private readonly windows = new Map<string, Recent>();

  record(participant: string, outcome: Outcome, error: string | null, durationMs = 0, now = Date.now()): void {
    const w = this.windows.get(participant) ?? { failures: [], lastError: null, calls: [] };
    // a definite "no" is a healthy answer; only missing or erroneous answers count as failures
    w.failures.push(outcome === 'unknown');
    if (w.failures.length > WINDOW) w.failures.shift();
    if (error && outcome === 'unknown') w.lastError = error;
    w.calls.push({ at: now, ms: durationMs });
    prune(w, now);
    this.windows.set(participant, w);
  }

  /** Whose calls are kept: participant names, and instances as `participant\0instanceId`. */
  keys(): IterableIterator<string> {
    return this.windows.keys();
  }

  forget(key: string): void {
    this.windows.delete(key);
  }

  /** Share of recent calls that failed, or null when there were none. */
  errorRate(participant: string): number | null {
    const w = this.windows.get(participant);
    if (!w || w.failures.length === 0) return null;
    return w.failures.filter(Boolean).length / w.failures.length;
  }

  lastError(participant: string): string | null {
    return this.windows.get(participant)?.lastError ?? null;
  }

  /** Calls of the last minute and their p50/p99 latency (null without calls). */
  lastMinute(participant: string, now = Date.now()): { calls: number; p50Ms: number | null; p99Ms: number | null } {
    const w = this.windows.get(participant);
    if (!w) return { calls: 0, p50Ms: null, p99Ms: null };
    prune(w, now);
    const sorted = w.calls.map((c) => c.ms).sort((a, b) => a - b);
    const at = (q: number) =>
      sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]) : null;
    return { calls: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99) };
  }
}

function prune(w: Recent, now: number): void {
  let drop = 0;
  while (drop < w.calls.length && w.calls[drop].at <= now - MINUTE) drop++;
  if (drop) w.calls.splice(0, drop);
}
