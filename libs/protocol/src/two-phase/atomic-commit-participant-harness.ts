import type { Outcome, Phase } from '#contracts';
import type { CallCommand } from '../machine';

/** Test support: the participants of the atomic-commit harness, with the SDK's barrier semantics (docs/participant-sdk.md, The barrier table). */

/** A protocol's phases as the harness drives them: the forward rounds in order, then the two completion phases. */
export interface ProtocolPhases {
  rounds: readonly Phase[];
  commit: Phase;
  abort: Phase;
}

/**
 * One participant per branch id, with the barrier: a forward phase applies once (a repeat answers as
 * the first did); a completion phase applies once; an abort that arrives first is a null abort and
 * refuses the late forward phase; a forward "no" releases whatever the branch held (a participant
 * that refuses stays refused). A completion phase that answers "no" (a protocol error) did nothing.
 * No timers: every participant waits for the coordinator.
 */
export class BarrierParticipant {
  /** Forward phases whose effect is applied, per branch. */
  readonly held = new Map<string, Set<Phase>>();
  /** Commit-phase effects applied, per branch (the barrier keeps it at one). */
  readonly commitEffects = new Map<string, number>();
  /** Releases of held forward effects (by the abort phase, or by the participant's own "no"), per branch. */
  readonly abortEffects = new Map<string, number>();
  /** Barrier rows of the completion phases: which branches heard commit, which heard abort. */
  readonly commitSeen = new Set<string>();
  readonly abortSeen = new Set<string>();
  readonly refused = new Set<string>();
  /** Completion calls that reached a participant, duplicates included. */
  completionDeliveries = 0;
  /** Things the barrier saw that a correct coordinator never causes. */
  readonly violations: string[] = [];

  constructor(
    private readonly phases: ProtocolPhases,
    private readonly skipped: (branchId: string) => readonly Phase[],
  ) {}

  receive(call: CallCommand, script: Outcome): Outcome {
    const id = call.branchId;
    const held = this.held.get(id) ?? new Set<Phase>();
    this.held.set(id, held);
    if (this.phases.rounds.includes(call.phase)) {
      if (this.abortSeen.has(id) || this.refused.has(id)) return 'no';
      if (this.commitSeen.has(id) || held.has(call.phase)) return script === 'unknown' ? 'unknown' : 'yes';
      if (script === 'no') {
        this.refused.add(id);
        if (held.size > 0) this.release(id);
        return 'no';
      }
      const earlier = this.phases.rounds.slice(0, this.phases.rounds.indexOf(call.phase));
      for (const p of earlier) {
        if (!held.has(p) && !this.skipped(id).includes(p)) this.violations.push(`${id}: ${call.phase} before ${p}`);
      }
      held.add(call.phase);
      return script;
    }
    if (call.phase !== this.phases.commit && call.phase !== this.phases.abort) {
      this.violations.push(`${id}: foreign phase ${call.phase}`);
      return 'no';
    }
    this.completionDeliveries++;
    if (script === 'no') return 'no';
    if (call.phase === this.phases.commit) {
      this.commitSeen.add(id);
      if (!this.commitEffects.has(id)) {
        for (const p of this.phases.rounds) {
          if (!held.has(p) && !this.skipped(id).includes(p)) this.violations.push(`${id}: ${call.phase} without ${p}`);
        }
        if (this.abortEffects.has(id) || this.refused.has(id)) {
          this.violations.push(`${id}: ${call.phase} after its release`);
        }
        this.commitEffects.set(id, (this.commitEffects.get(id) ?? 0) + 1);
      }
    } else {
      this.abortSeen.add(id);
      if (this.commitEffects.has(id)) this.violations.push(`${id}: ${call.phase} after ${this.phases.commit}`);
      else if (held.size > 0 && !this.abortEffects.has(id)) this.release(id);
    }
    return script;
  }

  private release(id: string): void {
    this.abortEffects.set(id, (this.abortEffects.get(id) ?? 0) + 1);
  }

  /** Branches that hold a forward effect that was neither committed nor released. */
  hanging(): string[] {
    return [...this.held]
      .filter(([id, held]) => held.size > 0 && !this.commitEffects.has(id) && !this.abortEffects.has(id))
      .map(([id]) => id);
  }

  /** Atomicity on effects: some branch committed while another (or the same) released. */
  atomicityBroken(): boolean {
    return (
      (this.commitEffects.size > 0 && this.abortEffects.size > 0) ||
      (this.commitSeen.size > 0 && this.abortSeen.size > 0)
    );
  }
}
