import type { Outcome } from '#contracts';

const WINDOW = 100;

/**
 * Recent call outcomes per participant, on this instance: the registry's `errorRate` (share of the
 * last 100 calls that got no answer or an error status) and `lastError`.
 */
export class ParticipantStats {
  private readonly windows = new Map<string, { failures: boolean[]; lastError: string | null; lastCallAt: number }>();

  record(participant: string, outcome: Outcome, error: string | null): void {
    const w = this.windows.get(participant) ?? { failures: [], lastError: null, lastCallAt: 0 };
    // a definite "no" is a healthy answer; only missing or erroneous answers count as failures
    w.failures.push(outcome === 'unknown');
    if (w.failures.length > WINDOW) w.failures.shift();
    if (error && outcome === 'unknown') w.lastError = error;
    w.lastCallAt = Date.now();
    this.windows.set(participant, w);
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
}
