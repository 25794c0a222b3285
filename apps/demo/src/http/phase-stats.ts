import type { BarrierKind } from '#participant';

/** The `GET /_stats` body: phase calls and barrier outcomes of one service since start. */
export interface PhaseStatsView {
  calls: number;
  byPhase: Record<string, number>;
  applied: number;
  duplicates: number;
  nullCompensations: number;
  refused: number;
  rejected: number;
}

/** In-memory counters of one demo service, so tests can check "applied exactly once". */
export class PhaseStats {
  private view: PhaseStatsView = PhaseStats.empty();

  private static empty(): PhaseStatsView {
    return { calls: 0, byPhase: {}, applied: 0, duplicates: 0, nullCompensations: 0, refused: 0, rejected: 0 };
  }

  called(phase: string): void {
    this.view.calls += 1;
    this.view.byPhase[phase] = (this.view.byPhase[phase] ?? 0) + 1;
  }

  decided(kind: BarrierKind): void {
    switch (kind) {
      case 'applied':
        this.view.applied += 1;
        return;
      case 'duplicate':
        this.view.duplicates += 1;
        return;
      case 'null-compensation':
        this.view.nullCompensations += 1;
        return;
      case 'refused':
        this.view.refused += 1;
        return;
    }
  }

  rejected(): void {
    this.view.rejected += 1;
  }

  snapshot(): PhaseStatsView {
    return { ...this.view, byPhase: { ...this.view.byPhase } };
  }
}
