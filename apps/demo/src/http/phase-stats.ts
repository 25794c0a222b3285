import type { PhaseReply, ThreePhaseEvent } from '#participant';

/** The `GET /_stats` body: phase calls and barrier outcomes of one service since start. */
export interface PhaseStatsView {
  calls: number;
  byPhase: Record<string, number>;
  applied: number;
  duplicates: number;
  nullCompensations: number;
  refused: number;
  rejected: number;
  /** Phase calls a partition dropped (never answered). */
  dropped: number;
  /** 3PC branches this service committed on its own timer. */
  timerCommits: number;
  /** 3PC branches this service aborted on its own timer. */
  timerAborts: number;
  /** 3PC do-commit / abort calls that contradicted what a branch had already done on its own (atomicity lost). */
  heuristicConflicts: number;
}

/** In-memory counters of one demo service, so tests can check "applied exactly once". */
export class PhaseStats {
  private view: PhaseStatsView = PhaseStats.empty();

  private static empty(): PhaseStatsView {
    return {
      calls: 0,
      byPhase: {},
      applied: 0,
      duplicates: 0,
      nullCompensations: 0,
      refused: 0,
      rejected: 0,
      dropped: 0,
      timerCommits: 0,
      timerAborts: 0,
      heuristicConflicts: 0,
    };
  }

  called(phase: string): void {
    this.view.calls += 1;
    this.view.byPhase[phase] = (this.view.byPhase[phase] ?? 0) + 1;
  }

  /**
   * Counts the verdict of one answered call: the `kind` of a 200 (applied, duplicate,
   * null-compensation, 3PC conflict) or of a 409 (refused, or a business rejection).
   */
  answered(reply: PhaseReply): void {
    const kind = (reply.body as { kind?: unknown } | null)?.kind;
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
      case 'rejected':
        this.view.rejected += 1;
        return;
      case 'conflict':
        this.view.heuristicConflicts += 1;
        return;
    }
  }

  dropped(): void {
    this.view.dropped += 1;
  }

  /** A 3PC timer resolved a branch (conflicts are counted by {@link answered}, from the call that met one). */
  threePhase(event: ThreePhaseEvent): void {
    if (event.type === 'timer-commit') this.view.timerCommits += 1;
    else if (event.type === 'timer-abort') this.view.timerAborts += 1;
  }

  snapshot(): PhaseStatsView {
    return { ...this.view, byPhase: { ...this.view.byPhase } };
  }
}
