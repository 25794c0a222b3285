import { Outcome } from '#contracts';
import type { ParticipantEntity, ParticipantInstanceEntity } from '#store';
import { callWithin } from './bounded-call';
import { ParticipantLimiter, shareOf, type Permit } from './call-limiter';
import { CallEndedByStop, KEY_SEPARATOR, instanceKey, type CircuitBreakers } from './circuit-breakers';
import type { CallRequest, CallResult, ParticipantCaller } from './participant-caller';
import { isLive, type ParticipantDirectory } from './participant-directory';
import type { ParticipantStats } from './participant-stats';

/** Why a delivery was not made (or made as a failed probe) and is due again later. */
export type DeferReason = 'no-live-instance' | 'circuit-open' | 'limit' | 'probe-failed' | 'deadline';

export type Delivery =
  | { kind: 'called'; result: CallResult; instanceId: string }
  | {
      kind: 'deferred';
      reason: DeferReason;
      retryAt: number;
      result?: CallResult;
      instanceId?: string;
      /** A failed probe's call that another live instance can take: never counted against the transaction. */
      othersLive?: boolean;
    }
  | { kind: 'unregistered' };

export interface GatewayOptions {
  /** Longest a call waits here for its participant's limits before it is deferred durably instead. */
  limitWaitMs: number;
  /** How soon a call with no live instance to go to looks again, at first (see {@link noInstanceWaitMs}). */
  noInstanceRetryMs: number;
  /** The longest a call may take (CALL_TIMEOUT_MS): what a probe of a hung instance costs its call. */
  callTimeoutMs: number;
}

/** How soon a call deferred by a coordinator with no share of its participant's limit comes back. */
const NO_SHARE_RETRY_MS = 250;

/** The longest a call with no live instance waits before it looks again (or `noInstanceRetryMs`, if longer). */
export const NO_INSTANCE_MAX_WAIT_MS = 30_000;

/**
 * How long a call waits before it looks again for a live instance of a participant that has had
 * none for `withoutMs`: half as long as that, between `retryMs` and {@link NO_INSTANCE_MAX_WAIT_MS}.
 * Every look is written to the log (the announced call and its deferral), so a participant gone
 * for a day must not cost its waiting transactions two entries a second; one that comes back is
 * called again within half the time it was away.
 */
export function noInstanceWaitMs(withoutMs: number, retryMs: number): number {
  return Math.max(retryMs, Math.min(Math.round(withoutMs / 2), NO_INSTANCE_MAX_WAIT_MS));
}

/** How many coordinators share the participants' limits, and this one's rank among them. */
export interface Peers {
  count: number;
  rank: number;
}

/**
 * Where the engine's calls go: client-side discovery over a participant's instances, balanced by
 * least outstanding calls from this coordinator (ties taken in turn), through each instance's
 * circuit breaker and the participant's limits. A call that cannot be made now (no live instance,
 * every circuit open, a limit reached) is not made and comes back `deferred` with when to try
 * again; the engine records that durably and schedules a wake-up, burning no attempt.
 */
export class ParticipantGateway {
  private readonly limiters = new Map<string, ParticipantLimiter>();
  /** Calls in flight per instance (`participant\0instance`), for least-outstanding balancing. */
  private readonly outstanding = new Map<string, number>();
  /** When each participant was first found with no live instance, since it last had one. */
  private readonly withoutInstanceSince = new Map<string, number>();
  private turn = 0;
  peers: Peers = { count: 1, rank: 0 };
  /**
   * Set as the coordinator stops, before it ends the calls still out: an unknown outcome from then
   * on is ours, not the participant's, and counts in no breaker and no figure.
   */
  stopping = false;

  constructor(
    private readonly directory: ParticipantDirectory,
    private readonly caller: ParticipantCaller,
    readonly circuits: CircuitBreakers,
    private readonly stats: ParticipantStats,
    private readonly options: GatewayOptions,
  ) {}

  /**
   * Forgets what this coordinator keeps per instance (its breaker, its recent calls) for every
   * instance not in `registered` (`participant\0instanceId` keys); answers the instances forgotten.
   * Instance ids are the participants' to choose (a pod's address, say): kept for good, they would
   * grow with every instance that ever ran.
   */
  forgetInstancesExcept(registered: ReadonlySet<string>): { participant: string; instanceId: string }[] {
    const gone = new Set<string>();
    for (const k of [...this.circuits.keys(), ...this.stats.keys()]) {
      if (k.includes(KEY_SEPARATOR) && !registered.has(k) && !this.outstanding.has(k)) gone.add(k);
    }
    return [...gone].map((k) => {
      this.circuits.forget(k);
      this.stats.forget(k);
      const [participant, instanceId] = k.split(KEY_SEPARATOR);
      return { participant, instanceId };
    });
  }

  /** Calls in flight from this coordinator to an instance now. */
  inFlight(participant: string, instanceId: string): number {
    return this.outstanding.get(instanceKey(participant, instanceId)) ?? 0;
  }

  /**
   * Delivers one call to a live instance of `name`, building the request for the instance chosen.
   * A call with `sendBy` (a forward phase: its transaction's deadline) that is still waiting for its
   * turn at that instant is not sent: it is deferred, never delivered, and the deadline decides.
   * An `urgent` call (a 3PC decision, which the participant otherwise takes on its own timer soon
   * after the deadline) is not held back by open circuits: with no closed one, it goes to a live
   * instance anyway, outside its breaker. Nor by the participant's limits: an abort held past a
   * pre-committed participant's timer would let it commit on its own while the others abort.
   */
  async deliver(
    name: string,
    build: (participant: ParticipantEntity, instance: ParticipantInstanceEntity) => CallRequest,
    sendBy?: number,
    urgent = false,
  ): Promise<Delivery> {
    const limits = await this.directory.entry(name);
    if (!limits) return { kind: 'unregistered' };
    const release = urgent ? () => undefined : await this.permit(limits.participant);
    if (typeof release !== 'function') return release;
    try {
      // the instances as they are now: the permit may have been waited for, and an instance left meanwhile
      const entry = await this.directory.entry(name);
      if (!entry) return { kind: 'unregistered' };
      // its turn came at or after the transaction's deadline: not sent, and the deadline aborts
      if (sendBy !== undefined && Date.now() >= sendBy) {
        return { kind: 'deferred', reason: 'deadline', retryAt: jittered(Date.now() + 100) };
      }
      let live = entry.instances.filter((i) => isLive(i));
      // a cached entry can only make leases look older than they are: look again before waiting
      if (live.length === 0)
        live = ((await this.directory.entry(name, true))?.instances ?? []).filter((i) => isLive(i));
      const now = Date.now();
      if (live.length === 0) {
        const since = this.withoutInstanceSince.get(name) ?? now;
        this.withoutInstanceSince.set(name, since);
        return {
          kind: 'deferred',
          reason: 'no-live-instance',
          retryAt: jittered(now + noInstanceWaitMs(now - since, this.options.noInstanceRetryMs)),
        };
      }
      this.withoutInstanceSince.delete(name);
      // a probe of an instance that hangs costs its call up to a call timeout: only a call with time
      // for another try after that carries a probe while other instances could take it
      const mayProbe = sendBy === undefined || sendBy - Date.now() > 2 * this.options.callTimeoutMs;
      const chosen = this.choose(name, live, mayProbe);
      if (typeof chosen === 'number') {
        if (urgent) return await this.callAnyway(entry.participant, live[this.turn++ % live.length], build);
        return { kind: 'deferred', reason: 'circuit-open', retryAt: jittered(chosen) };
      }
      const delivery = await this.callThrough(entry.participant, chosen, build);
      // a recovering instance's probe failed while others may carry the load (a live instance whose
      // circuit is closed, or may probe): go to them at once. Instances live by their lease whose
      // circuits are all open carry nothing: the failed probe was the call's own fate then
      if (
        delivery.kind === 'deferred' &&
        delivery.reason === 'probe-failed' &&
        this.othersMayCarry(name, live, chosen)
      ) {
        return { ...delivery, retryAt: jittered(Date.now()), othersLive: true };
      }
      return delivery;
    } finally {
      release();
    }
  }

  /** Whether a live instance other than `tried` could take a call now: its circuit closed, or due for its probe. */
  private othersMayCarry(name: string, live: ParticipantInstanceEntity[], tried: ParticipantInstanceEntity): boolean {
    const now = Date.now();
    return live.some(
      (i) => i !== tried && typeof this.circuits.of(name, i.instanceId).availabilityWith(i, now) !== 'number',
    );
  }

  /**
   * A permit to call `participant` within its limits, or the deferral to answer when none comes in
   * time (this coordinator holds no share of the limit, a backlog longer than a call may wait here,
   * or LIMIT_WAIT_MS went by).
   */
  private async permit(participant: ParticipantEntity): Promise<Permit | Delivery> {
    const limiter = this.limiterOf(participant);
    if (limiter.hasNoShare) {
      // more coordinators than the participant's limit allows calls: the ones holding a share make
      // them. Waiting here would only make this call late; its wake-up lands on any coordinator, so
      // come back soon and often enough to reach one that holds a share before the deadline
      return { kind: 'deferred', reason: 'limit', retryAt: jittered(Date.now() + NO_SHARE_RETRY_MS) };
    }
    const expected = limiter.expectedWaitMs();
    if (expected > this.options.limitWaitMs) {
      // a backlog longer than a call may wait here: come back about when its turn comes, not to queue again and again
      return {
        kind: 'deferred',
        reason: 'limit',
        retryAt: jittered(Date.now() + expected - this.options.limitWaitMs / 2),
      };
    }
    const permit = await limiter.acquire(this.options.limitWaitMs);
    return permit ?? { kind: 'deferred', reason: 'limit', retryAt: jittered(Date.now() + 100) };
  }

  /**
   * Among live instances: one whose open circuit may send its probe, if `mayProbe` (one real call,
   * so an instance that recovered rejoins, even while others carry the load); else those with a
   * closed circuit, by fewest outstanding calls, ties in turn; else one that may probe; else when the
   * first circuit may probe.
   */
  private choose(
    name: string,
    live: ParticipantInstanceEntity[],
    mayProbe: boolean,
  ): ParticipantInstanceEntity | number {
    const now = Date.now();
    const closed: ParticipantInstanceEntity[] = [];
    let probe: ParticipantInstanceEntity | null = null;
    let earliest = Infinity;
    for (const i of live) {
      const a = this.circuits.of(name, i.instanceId).availabilityWith(i, now);
      if (a === 'closed') closed.push(i);
      else if (a === 'probe') probe ??= i;
      else earliest = Math.min(earliest, a);
    }
    if (probe && (mayProbe || closed.length === 0)) return probe;
    if (closed.length === 0) return earliest;
    const start = this.turn++ % closed.length;
    let best = closed[start];
    for (let k = 1; k < closed.length; k++) {
      const i = closed[(start + k) % closed.length];
      if (this.inFlight(name, i.instanceId) < this.inFlight(name, best.instanceId)) best = i;
    }
    return best;
  }

  private callThrough(
    participant: ParticipantEntity,
    instance: ParticipantInstanceEntity,
    build: (participant: ParticipantEntity, instance: ParticipantInstanceEntity) => CallRequest,
  ): Promise<Delivery> {
    const circuit = this.circuits.of(participant.name, instance.instanceId);
    return this.outstandingWhile(participant, instance, async (k) => {
      const guarded = await circuit.run(() => this.endedByStop(callWithin(this.caller, build(participant, instance))));
      if (!guarded.called) {
        const a = circuit.availability();
        return { kind: 'deferred', reason: 'circuit-open', retryAt: jittered(typeof a === 'number' ? a : Date.now()) };
      }
      const { result } = guarded;
      if (this.stopping) return { kind: 'called', result, instanceId: instance.instanceId };
      this.stats.record(k, result.outcome, result.error, result.durationMs);
      if (guarded.probe && result.outcome === 'unknown') {
        // the probe found the instance still down: its circuit is open again, and the call waits with it
        const a = circuit.availability();
        const retryAt = jittered(typeof a === 'number' ? a : Date.now());
        return { kind: 'deferred', reason: 'probe-failed', retryAt, result, instanceId: instance.instanceId };
      }
      return { kind: 'called', result, instanceId: instance.instanceId };
    });
  }

  /** Makes an urgent call to `instance` past its open circuit (the breaker neither gates nor counts it). */
  private callAnyway(
    participant: ParticipantEntity,
    instance: ParticipantInstanceEntity,
    build: (participant: ParticipantEntity, instance: ParticipantInstanceEntity) => CallRequest,
  ): Promise<Delivery> {
    return this.outstandingWhile(participant, instance, async (k) => {
      const result = await callWithin(this.caller, build(participant, instance));
      if (!this.stopping) this.stats.record(k, result.outcome, result.error, result.durationMs);
      return { kind: 'called', result, instanceId: instance.instanceId };
    });
  }

  /** `call`, rejected with {@link CallEndedByStop} when it has no answer because we are stopping. */
  private async endedByStop(call: Promise<CallResult>): Promise<CallResult> {
    const result = await call;
    if (this.stopping && result.outcome === Outcome.Unknown) throw new CallEndedByStop(result);
    return result;
  }

  /** Runs `call`, counted as outstanding at `instance` (for balancing) while it runs; `call` gets the instance's key. */
  private async outstandingWhile(
    participant: ParticipantEntity,
    instance: ParticipantInstanceEntity,
    call: (k: string) => Promise<Delivery>,
  ): Promise<Delivery> {
    const k = instanceKey(participant.name, instance.instanceId);
    this.outstanding.set(k, (this.outstanding.get(k) ?? 0) + 1);
    try {
      return await call(k);
    } finally {
      const left = (this.outstanding.get(k) ?? 1) - 1;
      if (left > 0) this.outstanding.set(k, left);
      else this.outstanding.delete(k);
    }
  }

  private limiterOf(p: ParticipantEntity): ParticipantLimiter {
    const share = shareOf(p, this.peers.count, this.peers.rank);
    let limiter = this.limiters.get(p.name);
    if (!limiter) {
      limiter = new ParticipantLimiter(share);
      this.limiters.set(p.name, limiter);
    } else {
      limiter.update(share);
    }
    return limiter;
  }
}

/** Spreads the calls deferred together over a quarter second, so they do not all come back at once. */
function jittered(at: number): number {
  return Math.round(at + Math.random() * 250);
}
