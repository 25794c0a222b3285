import type { Outcome } from '#contracts';
import { nextWakeAt, type CallCommand, type MachineEvent, type TransactionState } from '../machine';
import { commitState, runScript, type CommitStateOptions, type Step } from '../two-phase/atomic-commit-fixtures';
import { threePhaseMachine } from './three-phase.machine';

interface Case {
  name: string;
  branches: number;
  opts?: CommitStateOptions;
  steps: Step[];
}

const started: Step = ['start', { status: 'running', calls: ['b0:can-commit#1', 'b1:can-commit#1'] }];
const voted: Step[] = [
  started,
  ['b0 can-commit yes', { status: 'running', calls: [] }],
  [
    'b1 can-commit yes',
    {
      status: 'running',
      decision: null,
      calls: ['b0:pre-commit#1', 'b1:pre-commit#1'],
      branches: ['running/pre-commit', 'running/pre-commit'],
    },
  ],
];
const decidedCommit: Step[] = [
  ...voted,
  ['b0 pre-commit yes', { status: 'running', decision: null, calls: [] }],
  ['b1 pre-commit yes', { status: 'committing', decision: 'commit', calls: ['b0:do-commit#1', 'b1:do-commit#1'] }],
];

const cases: Case[] = [
  {
    name: 'pre-commits only after every can-commit said yes, and decides commit only after every pre-commit ack',
    branches: 2,
    steps: [...decidedCommit, ['b0 do-commit yes', {}], ['b1 do-commit yes', { status: 'committed', wakeAt: null }]],
  },
  {
    name: 'a no to can-commit aborts the other branches, the can-commit in flight included',
    branches: 3,
    steps: [
      ['start', {}],
      ['b0 can-commit yes', {}],
      ['b1 can-commit no', { status: 'aborting', decision: 'abort', calls: ['b0:abort#1', 'b2:abort#1'] }],
      ['b2 can-commit#1 yes', { unchanged: true }],
    ],
  },
  {
    name: 'a no to pre-commit aborts every branch that holds a can-commit, the one that said no included',
    branches: 2,
    steps: [
      ...voted,
      ['b0 pre-commit yes', {}],
      [
        'b1 pre-commit no',
        {
          status: 'aborting',
          decision: 'abort',
          error: 'branch b1 answered no to pre-commit',
          calls: ['b0:abort#1', 'b1:abort#1'],
          branches: ['completing/abort', 'completing/abort'],
        },
      ],
    ],
  },
  {
    name: 'a pre-commit out of attempts counts as no',
    branches: 2,
    opts: { maxAttempts: 1 },
    steps: [...voted, ['b0 pre-commit unknown', { status: 'aborting', calls: ['b0:abort#1', 'b1:abort#1'] }]],
  },
  {
    name: 'the deadline during pre-commit decides abort',
    branches: 2,
    opts: { deadline: 400 },
    steps: [
      ...voted,
      ['b0 pre-commit yes', {}],
      ['b1 pre-commit unknown@100', { wakeAt: 105 }],
      ['wake@105', { calls: ['b1:pre-commit#2'] }],
      [
        'wake@400',
        { status: 'aborting', decision: 'abort', error: 'transaction timed out', calls: ['b0:abort#1', 'b1:abort#1'] },
      ],
    ],
  },
  {
    name: 'the deadline holds on every event: a can-commit yes processed after it aborts instead of starting pre-commit',
    branches: 2,
    opts: { deadline: 400 },
    steps: [
      started,
      ['b0 can-commit yes', {}],
      [
        'b1 can-commit yes@400',
        { status: 'aborting', error: 'transaction timed out', calls: ['b0:abort#1', 'b1:abort#1'] },
      ],
    ],
  },
  {
    name: 'the deadline holds on every event: a last pre-commit ack processed after it decides abort, not commit',
    branches: 2,
    opts: { deadline: 400 },
    steps: [...voted, ['b0 pre-commit yes', {}], ['b1 pre-commit yes@401', { status: 'aborting', decision: 'abort' }]],
  },
  {
    name: 'a client abort during pre-commit decides abort',
    branches: 2,
    steps: [...voted, ['abort', { status: 'aborting', decision: 'abort', calls: ['b0:abort#1', 'b1:abort#1'] }]],
  },
  {
    name: 'recover during can-commit decides abort',
    branches: 2,
    steps: [
      started,
      ['b0 can-commit yes', {}],
      ['recover@5', { status: 'aborting', calls: ['b0:abort#1', 'b1:abort#1'] }],
    ],
  },
  {
    name: 'recover during pre-commit decides abort (presumed abort)',
    branches: 2,
    steps: [
      ...voted,
      ['b0 pre-commit yes', {}],
      ['recover@5', { status: 'aborting', decision: 'abort', calls: ['b0:abort#1', 'b1:abort#1'] }],
    ],
  },
  {
    name: 'once every pre-commit is acknowledged nothing reverses the commit: deadline, client abort, recover',
    branches: 2,
    opts: { deadline: 400 },
    steps: [
      ...decidedCommit,
      ['wake@10000', { unchanged: true }],
      ['abort@10000', { unchanged: true }],
      ['recover@10000', { status: 'committing', decision: 'commit', calls: ['b0:do-commit#2', 'b1:do-commit#2'] }],
    ],
  },
  {
    name: 'a do-commit answering no is retried; out of attempts the transaction is parked failed, and replay re-sends do-commit',
    branches: 2,
    opts: { maxAttempts: 1 },
    steps: [
      ...decidedCommit,
      ['b0 do-commit yes', {}],
      ['b1 do-commit no', { status: 'failed', decision: 'commit' }],
      ['replay', { status: 'committing', calls: ['b1:do-commit#2'] }],
      ['b1 do-commit yes', { status: 'committed' }],
    ],
  },
  {
    name: 'phases mapped to null complete without a call',
    branches: 2,
    opts: { skip: { b0: ['can-commit', 'pre-commit'], b1: ['do-commit'] } },
    steps: [
      ['start', { calls: ['b1:can-commit#1'] }],
      ['b1 can-commit yes', { calls: ['b1:pre-commit#1'], branches: ['succeeded/pre-commit', 'running/pre-commit'] }],
      [
        'b1 pre-commit yes',
        { status: 'committing', calls: ['b0:do-commit#1'], branches: ['completing/do-commit', 'skipped/do-commit'] },
      ],
    ],
  },
  {
    name: 'ignores the interactive events register and commit',
    branches: 2,
    opts: { mode: 'interactive' },
    steps: [
      started,
      ['register b9', { unchanged: true }],
      ['b0 can-commit yes', {}],
      ['b1 can-commit yes', {}],
      ['commit', { unchanged: true }],
    ],
  },
  {
    name: 'ignores duplicate and stale answers across rounds',
    branches: 2,
    steps: [...voted, ['b0 can-commit#1 no', { unchanged: true }], ['b0 pre-commit#2 yes', { unchanged: true }]],
  },
];

describe('threePhaseMachine', () => {
  it.each(cases)('$name', ({ branches, opts, steps }) => {
    runScript(threePhaseMachine, commitState(branches, 'can-commit', opts), steps, nextWakeAt);
  });
});

type Local = 'idle' | 'voted' | 'pre-committed' | 'committed' | 'aborted';

/**
 * 3PC participants with the timers of docs/protocols/3pc.md, taken from the call's deadline (the
 * transaction's): at `deadline + margin` a participant that saw pre-commit and no decision commits
 * on its own; one that voted but never saw pre-commit aborts on its own.
 */
class TimedParticipants {
  readonly local = new Map<string, Local>();
  /** A decision that arrived after the participant had already gone the other way on its own. */
  readonly conflicts: string[] = [];

  constructor(
    readonly deadline: number,
    readonly margin: number,
  ) {}

  receive(call: CallCommand): Outcome {
    const s = this.local.get(call.branchId) ?? 'idle';
    const set = (v: Local) => this.local.set(call.branchId, v);
    switch (call.phase) {
      case 'can-commit':
        if (s === 'idle') set('voted');
        return s === 'aborted' ? 'no' : 'yes';
      case 'pre-commit':
        if (s === 'voted') set('pre-committed');
        return s === 'aborted' ? 'no' : 'yes';
      case 'do-commit':
        if (s === 'aborted') this.conflicts.push(`${call.branchId}: do-commit after its own abort`);
        else set('committed');
        return 'yes';
      default:
        if (s === 'committed') this.conflicts.push(`${call.branchId}: abort after its own commit`);
        else set('aborted');
        return 'yes';
    }
  }

  /** Every participant's timer at `now`. */
  tick(now: number): void {
    if (now < this.deadline + this.margin) return;
    for (const [id, s] of this.local) {
      if (s === 'voted') this.local.set(id, 'aborted');
      if (s === 'pre-committed') this.local.set(id, 'committed');
    }
  }

  outcomes(): Local[] {
    return [...this.local.keys()].sort().map((id) => this.local.get(id)!);
  }

  atomic(): boolean {
    const all = this.outcomes();
    return !(all.includes('committed') && all.includes('aborted')) && this.conflicts.length === 0;
  }
}

/** One coordinator (the machine), its calls on the wire, and timed participants, stepped by hand. */
class World {
  state: TransactionState;
  wire: CallCommand[] = [];
  readonly participants: TimedParticipants;

  constructor(branches: number, deadline: number, margin = 0) {
    this.state = commitState(branches, 'can-commit', { deadline });
    this.participants = new TimedParticipants(deadline, margin);
  }

  coordinator(event: MachineEvent, now: number): void {
    const d = threePhaseMachine.decide(this.state, event, now);
    this.state = d.state;
    this.wire.push(...d.commands);
  }

  /** Delivers the oldest call to `branchId` on the wire; `cut` loses its request or its reply. */
  deliver(branchId: string, now: number, cut?: 'request' | 'reply'): void {
    const i = this.wire.findIndex((c) => c.branchId === branchId);
    if (i < 0) throw new Error(`no call for ${branchId} on the wire`);
    const [call] = this.wire.splice(i, 1);
    this.participants.tick(now);
    const reply: Outcome = cut === 'request' ? 'unknown' : this.participants.receive(call);
    this.coordinator(
      {
        type: 'outcome',
        branchId,
        phase: call.phase,
        attempt: call.attempt,
        outcome: cut ? 'unknown' : reply,
        random01: 0,
      },
      now,
    );
  }

  /** The coordinator dies: calls it announced are lost with it. */
  crash(): void {
    this.wire = [];
  }

  /** Everything on the wire reaches its participant (the partition heals, the new owner's calls land). */
  drain(now: number): void {
    while (this.wire.length) this.deliver(this.wire[0].branchId, now);
  }
}

/** docs/protocols/3pc-vs-2pc.md: what the participants' timers buy, and what they cannot. */
describe('threePhaseMachine with participant timers', () => {
  const DEADLINE = 1_000;

  const preCommitted = (w: World) => {
    w.coordinator({ type: 'start' }, 0);
    w.deliver('b0', 1);
    w.deliver('b1', 2);
    expect(w.wire.map((c) => c.phase)).toEqual(['pre-commit', 'pre-commit']);
  };

  it('T1: a participant cut off after the commit decision commits on its own timer, agreeing with the decision', () => {
    const w = new World(2, DEADLINE);
    preCommitted(w);
    w.deliver('b0', 3);
    w.deliver('b1', 4);
    expect(w.state.decision).toBe('commit');
    w.deliver('b0', 5); // b0 commits; the coordinator then loses b1 (crash or partition)
    w.crash();
    w.participants.tick(DEADLINE);
    expect(w.participants.outcomes()).toEqual(['committed', 'committed']); // not blocked
    // whoever takes over later re-sends do-commit, which finds b1 already committed
    w.coordinator({ type: 'recover' }, 5 * DEADLINE);
    expect(w.wire.map((c) => `${c.branchId}:${c.phase}`)).toEqual(['b1:do-commit']);
    w.drain(5 * DEADLINE);
    expect(w.state.status).toBe('committed');
    expect(w.participants.atomic()).toBe(true);
  });

  it('T2: a coordinator crash before pre-commit: participants abort on their own timers and the takeover decides abort, agreeing', () => {
    const w = new World(2, DEADLINE);
    w.coordinator({ type: 'start' }, 0);
    w.deliver('b0', 1);
    w.deliver('b1', 2, 'reply'); // b1 voted yes, then the coordinator died before recording it
    w.crash();
    w.participants.tick(DEADLINE);
    expect(w.participants.outcomes()).toEqual(['aborted', 'aborted']); // locks released without the coordinator
    w.coordinator({ type: 'recover' }, 5 * DEADLINE);
    expect(w.state.decision).toBe('abort');
    w.drain(5 * DEADLINE);
    expect(w.state.status).toBe('aborted');
    expect(w.participants.atomic()).toBe(true);
  });

  it('T3: a coordinator crash during pre-commit taken over before the deadline: the abort reaches every participant before its timer', () => {
    const w = new World(2, DEADLINE);
    preCommitted(w);
    w.deliver('b0', 3);
    w.deliver('b1', 4, 'reply');
    w.crash();
    w.coordinator({ type: 'recover' }, 500);
    expect(w.state.decision).toBe('abort');
    w.drain(600);
    w.participants.tick(DEADLINE);
    expect(w.participants.outcomes()).toEqual(['aborted', 'aborted']);
    expect(w.state.status).toBe('aborted');
    expect(w.participants.atomic()).toBe(true);
  });

  it('L1: a partition after pre-commit: the coordinator decides abort at the deadline while a cut-off pre-committed participant commits on its timer (atomicity lost)', () => {
    const w = new World(2, DEADLINE, 50); // timers with a margin, so that a reachable participant hears the abort first
    preCommitted(w);
    w.deliver('b0', 3);
    w.deliver('b1', 4, 'reply'); // b1 pre-committed; the partition eats its ack
    w.coordinator({ type: 'wake' }, 100);
    w.deliver('b1', 100, 'request'); // and the retry
    w.coordinator({ type: 'wake' }, DEADLINE);
    expect(w.state.decision).toBe('abort');
    w.deliver('b0', DEADLINE + 10); // the abort reaches b0 before its timer
    w.participants.tick(DEADLINE + 50); // b1 hears nothing: it commits on its own
    expect(w.participants.outcomes()).toEqual(['aborted', 'committed']);
    expect(w.participants.atomic()).toBe(false);
    // the partition heals: the abort finds b1 committed; the coordinator cannot tell
    w.drain(2 * DEADLINE);
    expect(w.state.status).toBe('aborted');
    expect(w.participants.conflicts).toEqual(['b1: abort after its own commit']);
  });

  it('L2: a crash during pre-commit taken over after the deadline: the takeover decides abort while pre-committed participants committed on their timers', () => {
    const w = new World(2, DEADLINE);
    preCommitted(w);
    w.deliver('b0', 3);
    w.deliver('b1', 4, 'reply');
    w.crash();
    w.participants.tick(DEADLINE);
    expect(w.participants.outcomes()).toEqual(['committed', 'committed']);
    w.coordinator({ type: 'recover' }, 5 * DEADLINE);
    expect(w.state.decision).toBe('abort'); // presumed abort: the log holds no decision
    w.drain(5 * DEADLINE);
    expect(w.participants.conflicts).toEqual(['b0: abort after its own commit', 'b1: abort after its own commit']);
  });

  it("L3: without a margin on the participants' timers, a deadline abort during pre-commit loses the race even to participants the coordinator can reach", () => {
    const w = new World(2, DEADLINE, 0);
    preCommitted(w);
    w.deliver('b0', 3);
    w.deliver('b1', 4, 'reply');
    w.coordinator({ type: 'wake' }, DEADLINE);
    expect(w.state.decision).toBe('abort');
    w.drain(DEADLINE + 10); // the abort is on the wire for 10 ms; both timers fired at the deadline
    expect(w.participants.outcomes()).toEqual(['committed', 'committed']);
    expect(w.participants.conflicts).toEqual(['b0: abort after its own commit', 'b1: abort after its own commit']);
  });
});
