import {
  DEFAULT_3PC_TIMER_MARGIN_MS,
  ThreePhaseTimers,
  ownDecisionOf,
  timerFireAt,
  type BranchKey,
  type OwnDecision,
  type TimerClock,
} from './three-phase-timers';

/** A clock that moves only when told to; `advance` runs the timers that fall due, in order. */
class FakeClock implements TimerClock {
  private time = 1_000_000;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, running every timer due on the way (and letting their promises settle). */
  async advance(ms: number): Promise<void> {
    const until = this.time + ms;
    for (;;) {
      const next = [...this.timers.entries()]
        .filter(([, t]) => t.at <= until)
        .sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (!next) break;
      this.timers.delete(next[0]);
      this.time = Math.max(this.time, next[1].at);
      next[1].fn();
      await flush();
    }
    this.time = until;
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

const A: BranchKey = { transactionId: 't1', branchId: 'a' };
const B: BranchKey = { transactionId: 't1', branchId: 'b' };

function setup(options: { marginMs?: number; fail?: number } = {}) {
  const clock = new FakeClock();
  const fired: { key: BranchKey; decision: OwnDecision; at: number }[] = [];
  const errors: unknown[] = [];
  let failures = options.fail ?? 0;
  const timers = new ThreePhaseTimers(
    async (key, decision) => {
      if (failures > 0) {
        failures -= 1;
        throw new Error('database down');
      }
      fired.push({ key, decision, at: clock.now() });
    },
    { clock, marginMs: options.marginMs, retryMs: 500, onError: (e) => errors.push(e) },
  );
  return { clock, timers, fired, errors };
}

describe('ownDecisionOf (the participant timers of docs/protocols/3pc.md)', () => {
  it('commits after pre-commit and aborts before it', () => {
    expect(ownDecisionOf('pre-committed')).toBe('commit');
    expect(ownDecisionOf('voted')).toBe('abort');
  });

  it('fires at the deadline plus the margin, whatever form the deadline takes', () => {
    const iso = '2026-01-01T00:00:00.000Z';
    const ms = Date.parse(iso);
    expect(timerFireAt(iso, 200)).toBe(ms + 200);
    expect(timerFireAt(new Date(ms), 0)).toBe(ms);
    expect(timerFireAt(ms, 50)).toBe(ms + 50);
    expect(() => timerFireAt('not a time', 0)).toThrow(TypeError);
  });
});

describe('ThreePhaseTimers (fake clock)', () => {
  it('a branch that voted yes and hears nothing aborts on its own at deadline + margin, not before', async () => {
    const { clock, timers, fired } = setup();
    const deadline = clock.now() + 1000;
    timers.arm(A, 'voted', deadline);
    expect(timers.armed()).toEqual([
      { key: A, status: 'voted', decision: 'abort', fireAt: deadline + DEFAULT_3PC_TIMER_MARGIN_MS },
    ]);

    await clock.advance(1000 + DEFAULT_3PC_TIMER_MARGIN_MS - 1);
    expect(fired).toEqual([]);
    await clock.advance(1);
    expect(fired).toEqual([{ key: A, decision: 'abort', at: deadline + DEFAULT_3PC_TIMER_MARGIN_MS }]);
    expect(timers.armed()).toEqual([]);
    await clock.advance(10_000);
    expect(fired).toHaveLength(1); // once
  });

  it('pre-commit re-arms the same branch: it then commits on its own instead', async () => {
    const { clock, timers, fired } = setup({ marginMs: 50 });
    const deadline = clock.now() + 1000;
    timers.arm(A, 'voted', deadline);
    await clock.advance(300);
    timers.arm(A, 'pre-committed', deadline);
    expect(clock.pending).toBe(1); // the own-abort timer is gone
    await clock.advance(750);
    expect(fired).toEqual([{ key: A, decision: 'commit', at: deadline + 50 }]);
  });

  it('a decision heard in time disarms the timer; other branches keep theirs', async () => {
    const { clock, timers, fired } = setup({ marginMs: 0 });
    const deadline = clock.now() + 1000;
    timers.arm(A, 'pre-committed', deadline);
    timers.arm(B, 'pre-committed', deadline);
    await clock.advance(999);
    timers.disarm(A);
    timers.disarm({ transactionId: 'other', branchId: 'a' }); // nothing armed: no-op
    await clock.advance(1);
    expect(fired.map((f) => f.key)).toEqual([B]);
  });

  it('a deadline already past when armed (a restart, a late call) fires on the next tick', async () => {
    const { clock, timers, fired } = setup();
    timers.arm(A, 'voted', clock.now() - 5_000);
    expect(fired).toEqual([]);
    await clock.advance(0);
    expect(fired).toEqual([{ key: A, decision: 'abort', at: clock.now() }]);
  });

  it('fires soonest first', async () => {
    const { clock, timers, fired } = setup({ marginMs: 0 });
    timers.arm(A, 'voted', clock.now() + 2000);
    timers.arm(B, 'pre-committed', clock.now() + 1000);
    expect(timers.armed().map((t) => t.key.branchId)).toEqual(['b', 'a']);
    await clock.advance(5000);
    expect(fired.map((f) => [f.key.branchId, f.decision])).toEqual([
      ['b', 'commit'],
      ['a', 'abort'],
    ]);
  });

  it('a fire that fails (database down) is retried after retryMs until it succeeds', async () => {
    const { clock, timers, fired, errors } = setup({ marginMs: 0, fail: 2 });
    const deadline = clock.now() + 100;
    timers.arm(A, 'pre-committed', deadline);
    await clock.advance(100);
    expect(errors).toHaveLength(1);
    expect(fired).toEqual([]);
    expect(timers.armed()).toHaveLength(1); // still armed while it has not gone through
    await clock.advance(1000);
    expect(errors).toHaveLength(2);
    expect(fired).toEqual([{ key: A, decision: 'commit', at: deadline + 1000 }]);
    expect(timers.armed()).toEqual([]);
  });

  it('a decision heard while the fire is failing stops the retries', async () => {
    const { clock, timers, fired, errors } = setup({ marginMs: 0, fail: 100 });
    timers.arm(A, 'voted', clock.now() + 100);
    await clock.advance(100);
    expect(errors).toHaveLength(1);
    timers.disarm(A);
    await clock.advance(10_000);
    expect(errors).toHaveLength(1);
    expect(fired).toEqual([]);
  });

  it('close clears every timer; nothing fires or can be armed afterwards', async () => {
    const { clock, timers, fired } = setup();
    timers.arm(A, 'voted', clock.now() + 100);
    await timers.close();
    timers.arm(B, 'voted', clock.now() + 100);
    await clock.advance(10_000);
    expect(fired).toEqual([]);
    expect(timers.armed()).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it('refuses a negative margin', () => {
    expect(() => new ThreePhaseTimers(async () => undefined, { marginMs: -1 })).toThrow(RangeError);
  });
});
