import {
  BrokenCircuitError,
  CircuitBreakerPolicy,
  CircuitState as CockatielState,
  ConsecutiveBreaker,
  CountBreaker,
  circuitBreaker,
  handleWhen,
  type IBreaker,
} from 'cockatiel';
import { Outcome, type CircuitState } from '#contracts';
import type { CallResult } from './participant-caller';

/** When a circuit opens and how long it stays open before a probe. */
export interface CircuitOptions {
  /** This many failures in a row open it. */
  consecutiveFailures: number;
  /** A share of failures (0-1) over the last `window` calls opens it, once `window` calls were seen. */
  failureRate: number;
  window: number;
  /** An open circuit lets one probe call through after this long. */
  halfOpenAfterMs: number;
}

/** A circuit's state changed on this coordinator. */
export interface CircuitChange {
  participant: string;
  instanceId: string;
  state: CircuitState;
  at: Date;
}

/** The circuit state last published for an instance by any coordinator (its registry row). */
export interface PublishedCircuit {
  circuit: string;
  circuitChangedAt: Date | null;
}

/** What one guarded call came to: called (with the probe flag), or refused by an open circuit. */
export type GuardedCall = { called: true; result: CallResult; probe: boolean } | { called: false };

/** Opens when either breaker would: failures in a row, or too high a failure rate over the window. */
class EitherBreaker implements IBreaker {
  constructor(private readonly breakers: IBreaker[]) {}

  get state(): unknown {
    return this.breakers.map((b) => b.state);
  }

  set state(value: unknown) {
    (value as unknown[]).forEach((s, i) => (this.breakers[i].state = s));
  }

  success(state: CockatielState): void {
    for (const b of this.breakers) b.success(state);
  }

  failure(state: CockatielState): boolean {
    // every breaker sees every failure: no short-circuit
    return this.breakers.map((b) => b.failure(state)).some(Boolean);
  }
}

/** An unknown outcome, thrown through the policy so that cockatiel counts it as a failure. */
class FailedCall extends Error {
  constructor(readonly result: CallResult) {
    super(result.error ?? 'unknown outcome');
  }
}

/**
 * A call this coordinator ended itself, stopping: not the participant's failure. Its breaker does
 * not count it (an instance's circuit must not open, and page an operator, because we stopped).
 */
export class CallEndedByStop extends Error {
  constructor(readonly result: CallResult) {
    super(result.error ?? 'ended by the coordinator stopping');
  }
}

/**
 * One instance's breaker, with what cockatiel keeps private: when it opened, and a probe under way.
 * Its state is told on every change, and once after its first answered call: a breaker starts
 * closed, and the registry may still show the state a coordinator before it published (an `open`
 * left by one that stopped), which only this one's own word replaces. A first call that fails tells
 * nothing: the registry's `open` (another coordinator's, live) is then the better word.
 */
export class InstanceCircuit {
  private openedAt: number | null = null;
  /** When this breaker last told a state (0: never): a state another coordinator published before it is older news. */
  private changedAt = 0;
  private probing = false;
  private told = false;
  private readonly policy: CircuitBreakerPolicy;

  constructor(
    private readonly options: CircuitOptions,
    private readonly onChange: (state: CircuitState) => void,
  ) {
    this.policy = circuitBreaker(
      handleWhen((error) => !(error instanceof CallEndedByStop)),
      {
        halfOpenAfter: options.halfOpenAfterMs,
        breaker: new EitherBreaker([
          new ConsecutiveBreaker(options.consecutiveFailures),
          new CountBreaker({ threshold: options.failureRate, size: options.window }),
        ]),
      },
    );
    this.policy.onBreak(() => {
      this.openedAt = Date.now();
      this.tell('open');
    });
    this.policy.onHalfOpen(() => this.tell('half-open'));
    this.policy.onReset(() => {
      this.openedAt = null;
      this.tell('closed');
    });
  }

  get state(): CircuitState {
    switch (this.policy.state) {
      case CockatielState.Closed:
        return 'closed';
      case CockatielState.HalfOpen:
        return 'half-open';
      case CockatielState.Open:
      case CockatielState.Isolated:
        return 'open';
    }
  }

  /**
   * `closed`: calls go through. `probe`: open, and its half-open probe may go now (one caller at a
   * time). A time: open (or probing) until then at the earliest.
   */
  availability(now = Date.now()): 'closed' | 'probe' | number {
    const state = this.policy.state;
    if (state === CockatielState.Closed) return 'closed';
    if (state === CockatielState.HalfOpen || this.probing) return now + Math.min(1_000, this.options.halfOpenAfterMs);
    const probeAt = (this.openedAt ?? now) + this.options.halfOpenAfterMs;
    return probeAt <= now ? 'probe' : probeAt;
  }

  /**
   * {@link availability}, also holding back while another coordinator's `open` (or `half-open`),
   * published for the instance since this breaker last changed, is younger than a half-open wait:
   * the coordinators then wait for one probe together, rather than each burning transactions'
   * attempts until its own breaker opens. A closed breaker whose own word is newer goes by it.
   */
  availabilityWith(published: PublishedCircuit, now = Date.now()): 'closed' | 'probe' | number {
    const own = this.availability(now);
    if (own !== 'closed' || published.circuit === 'closed' || published.circuitChangedAt === null) return own;
    const at = published.circuitChangedAt.getTime();
    if (at <= this.changedAt) return own;
    // a publisher's clock ahead of this one's holds no longer than one half-open wait from now
    const until = Math.min(at, now) + this.options.halfOpenAfterMs;
    return until > now ? until : own;
  }

  /**
   * Makes `call` through the breaker: an unknown outcome counts as a failure, any answer as a
   * success, and a call that rejects with {@link CallEndedByStop} as neither. Refused without calling when the circuit is open (or another caller's probe is out).
   */
  async run(call: () => Promise<CallResult>): Promise<GuardedCall> {
    const availability = this.availability();
    if (typeof availability === 'number') return { called: false };
    const probe = availability === 'probe';
    if (probe) this.probing = true;
    let answered = false;
    try {
      const result = await this.policy.execute(async () => {
        const r = await call();
        if (r.outcome === Outcome.Unknown) throw new FailedCall(r);
        return r;
      });
      answered = true;
      return { called: true, result, probe };
    } catch (error) {
      if (error instanceof FailedCall || error instanceof CallEndedByStop)
        return { called: true, result: error.result, probe };
      if (error instanceof BrokenCircuitError) return { called: false };
      throw error;
    } finally {
      if (probe) this.probing = false;
      // only an answer contradicts an `open` another coordinator published: a failure here would
      // overwrite it with `closed`, and this breaker's own opening later would read as a new outage
      if (!this.told && answered && this.state === 'closed') this.tell('closed');
    }
  }

  private tell(state: CircuitState): void {
    this.told = true;
    this.changedAt = Date.now();
    this.onChange(state);
  }
}

/**
 * The circuit breakers of this coordinator, one per participant instance, made on first use. They
 * are derived from this coordinator's own calls (ADR 0006): each coordinator decides for itself
 * and publishes its changes, which the registry shows.
 */
export class CircuitBreakers {
  private readonly circuits = new Map<string, InstanceCircuit>();

  constructor(
    private readonly options: CircuitOptions,
    private readonly onChange: (change: CircuitChange) => void = () => undefined,
  ) {}

  of(participant: string, instanceId: string): InstanceCircuit {
    const key = instanceKey(participant, instanceId);
    let circuit = this.circuits.get(key);
    if (!circuit) {
      circuit = new InstanceCircuit(this.options, (state) =>
        this.onChange({ participant, instanceId, state, at: new Date() }),
      );
      this.circuits.set(key, circuit);
    }
    return circuit;
  }

  /** The state of an instance's breaker on this coordinator, or null when it never called it. */
  stateOf(participant: string, instanceId: string): CircuitState | null {
    return this.circuits.get(instanceKey(participant, instanceId))?.state ?? null;
  }

  /** The instances with a breaker here, as `participant\0instanceId`. */
  keys(): IterableIterator<string> {
    return this.circuits.keys();
  }

  /** Drops the breaker of an instance (`participant\0instanceId`) no longer registered. */
  forget(key: string): void {
    this.circuits.delete(key);
  }
}

/** What separates a participant's name from an instance id in {@link instanceKey}: neither may hold it. */
export const KEY_SEPARATOR = '\u0000';

/** The key of an instance in the maps kept per instance (breakers, recent calls, calls in flight). */
export function instanceKey(participant: string, instanceId: string): string {
  return `${participant}${KEY_SEPARATOR}${instanceId}`;
}
