import { nextWakeAt } from '../machine';
import { commitState, runScript, type CommitStateOptions, type Step } from './atomic-commit-fixtures';
import { twoPhaseMachine } from './two-phase.machine';

interface Case {
  name: string;
  branches: number;
  opts?: CommitStateOptions;
  steps: Step[];
}

const started: Step = ['start', { status: 'running', calls: ['b0:prepare#1', 'b1:prepare#1'] }];
const decidedCommit: Step[] = [
  started,
  ['b0 prepare yes', { status: 'running', decision: null }],
  ['b1 prepare yes', { status: 'committing', decision: 'commit', calls: ['b0:commit#1', 'b1:commit#1'] }],
];

const cases: Case[] = [
  {
    name: 'prepares every branch at once and commits all once every prepare said yes',
    branches: 2,
    steps: [...decidedCommit, ['b1 commit yes', {}], ['b0 commit yes', { status: 'committed', wakeAt: null }]],
  },
  {
    name: 'a definite no rolls back every other branch, the prepare still in flight included',
    branches: 3,
    steps: [
      ['start', {}],
      ['b0 prepare yes', {}],
      [
        'b2 prepare no',
        {
          status: 'aborting',
          decision: 'abort',
          calls: ['b0:rollback#1', 'b1:rollback#1'],
          branches: ['completing/rollback', 'completing/rollback', 'rejected/prepare'],
        },
      ],
      ['b1 prepare#1 yes', { unchanged: true }],
      ['b0 rollback yes', {}],
      ['b1 rollback yes', { status: 'aborted' }],
    ],
  },
  {
    name: 'a prepare out of attempts counts as no and is rolled back',
    branches: 2,
    opts: { maxAttempts: 1 },
    steps: [started, ['b0 prepare unknown', { status: 'aborting', calls: ['b0:rollback#1', 'b1:rollback#1'] }]],
  },
  {
    name: 'the deadline rolls back an undecided transaction',
    branches: 2,
    opts: { deadline: 300 },
    steps: [
      started,
      ['b0 prepare yes', {}],
      ['wake@299', { unchanged: true }],
      ['wake@300', { status: 'aborting', error: 'transaction timed out', calls: ['b0:rollback#1', 'b1:rollback#1'] }],
    ],
  },
  {
    name: 'a client abort is honoured before the decision',
    branches: 2,
    steps: [
      started,
      ['abort', { status: 'aborting', decision: 'abort', error: 'client', calls: ['b0:rollback#1', 'b1:rollback#1'] }],
    ],
  },
  {
    name: 'a client abort is refused after the decision',
    branches: 2,
    steps: [...decidedCommit, ['abort', { unchanged: true }]],
  },
  {
    name: 'presumed abort: a takeover before the decision rolls back',
    branches: 2,
    steps: [
      started,
      ['b0 prepare yes', {}],
      ['recover@5', { status: 'aborting', decision: 'abort', calls: ['b0:rollback#1', 'b1:rollback#1'] }],
    ],
  },
  {
    name: 'a takeover after the commit decision re-delivers commit, never rollback',
    branches: 2,
    steps: [
      ...decidedCommit,
      ['recover@5', { status: 'committing', decision: 'commit', calls: ['b0:commit#2', 'b1:commit#2'] }],
    ],
  },
  {
    name: 'a commit answering no is a protocol error: retried, then parked failed, and replay finishes it',
    branches: 2,
    opts: { maxAttempts: 1 },
    steps: [
      ...decidedCommit,
      ['b0 commit yes', {}],
      [
        'b1 commit no',
        { status: 'failed', decision: 'commit', error: 'branch b1 commit not acknowledged after 1 attempts' },
      ],
      ['abort', { unchanged: true }],
      ['replay', { status: 'committing', calls: ['b1:commit#2'] }],
      ['b1 commit yes', { status: 'committed', decision: 'commit' }],
    ],
  },
  {
    name: 'a failed rollback is replayed as a rollback',
    branches: 2,
    opts: { maxAttempts: 1 },
    steps: [
      started,
      ['b0 prepare no', { calls: ['b1:rollback#1'] }],
      ['b1 rollback unknown', { status: 'failed', decision: 'abort' }],
      ['replay', { status: 'aborting', decision: 'abort', calls: ['b1:rollback#2'] }],
      ['b1 rollback yes', { status: 'aborted' }],
    ],
  },
  {
    name: 'interactive: register prepares at once, only the client commits',
    branches: 0,
    opts: { mode: 'interactive' },
    steps: [
      ['start', { status: 'running', calls: [] }],
      ['register b0', { calls: ['b0:prepare#1'] }],
      ['b0 prepare yes', { status: 'running', decision: null }],
      ['commit', { status: 'committing', decision: 'commit', calls: ['b0:commit#1'] }],
    ],
  },
  {
    name: 'interactive: commit is refused while a prepare is unanswered',
    branches: 0,
    opts: { mode: 'interactive' },
    steps: [
      ['start', {}],
      ['register b0', {}],
      ['commit', { unchanged: true }],
      ['register b1', {}],
      ['b0 prepare yes', {}],
      ['commit', { unchanged: true }],
    ],
  },
  {
    name: 'driven mode: commit is no more than what the machine does on its own',
    branches: 2,
    steps: [started, ['b0 prepare yes', {}], ['commit', { unchanged: true }]],
  },
];

describe('twoPhaseMachine', () => {
  it.each(cases)('$name', ({ branches, opts, steps }) => {
    runScript(twoPhaseMachine, commitState(branches, 'prepare', opts), steps, nextWakeAt);
  });
});

/**
 * docs/protocols/3pc-vs-2pc.md: what a 2PC participant can do on its own. Nothing: once prepared
 * it must hold its locks until the coordinator (or the instance that takes over) tells it.
 */
describe('twoPhaseMachine blocking', () => {
  it('B1: a prepared participant that loses the coordinator before the decision stays prepared until the takeover rolls it back', () => {
    // prepared: both said yes to prepare, but the coordinator died before it could record b1's answer
    let state = runScript(
      twoPhaseMachine,
      commitState(2, 'prepare', { deadline: 300 }),
      [started, ['b0 prepare yes', {}]],
      nextWakeAt,
    );
    // the participants have no timer in 2PC: long after the deadline they still hold their prepared locks,
    // and only the instance that takes over can release them
    state = runScript(
      twoPhaseMachine,
      state,
      [['recover@100000', { status: 'aborting', decision: 'abort', calls: ['b0:rollback#1', 'b1:rollback#1'] }]],
      nextWakeAt,
    );
    expect(state.branches.map((b) => b.phase)).toEqual(['rollback', 'rollback']);
  });

  it('B2: after the commit decision a prepared participant that heard nothing gets commit only from the coordinator, however late', () => {
    const state = runScript(
      twoPhaseMachine,
      commitState(2, 'prepare', { deadline: 300 }),
      [
        ...decidedCommit,
        ['b0 commit yes', {}],
        ['wake@100000', { unchanged: true }],
        ['recover@100000', { calls: ['b1:commit#2'] }],
      ],
      nextWakeAt,
    );
    expect(state.decision).toBe('commit');
  });
});
