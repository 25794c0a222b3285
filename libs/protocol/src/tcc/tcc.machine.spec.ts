import { nextWakeAt } from '../machine';
import { commitState, runScript, type CommitStateOptions, type Step } from '../two-phase/atomic-commit-fixtures';
import { tccMachine } from './tcc.machine';

interface Case {
  name: string;
  branches: number;
  opts?: CommitStateOptions;
  steps: Step[];
}

const started: Step = ['start', { status: 'running', decision: null, calls: ['b0:try#1', 'b1:try#1'] }];

const cases: Case[] = [
  {
    name: 'tries every branch at once, confirms all once every try said yes',
    branches: 2,
    steps: [
      started,
      ['b1 try yes', { status: 'running', calls: [], branches: ['running/try', 'succeeded/try'] }],
      ['b0 try yes', { status: 'committing', decision: 'commit', calls: ['b0:confirm#1', 'b1:confirm#1'] }],
      ['b0 confirm yes', { status: 'committing', branches: ['completed/confirm', 'completing/confirm'] }],
      ['b1 confirm yes', { status: 'committed', decision: 'commit', calls: [], wakeAt: null }],
    ],
  },
  {
    name: 'a definite no cancels every other branch, the try still in flight included, and not the rejecting one',
    branches: 3,
    steps: [
      ['start', { calls: ['b0:try#1', 'b1:try#1', 'b2:try#1'] }],
      ['b0 try yes', { calls: [] }],
      [
        'b1 try no',
        {
          status: 'aborting',
          decision: 'abort',
          error: 'branch b1 answered no to try',
          calls: ['b0:cancel#1', 'b2:cancel#1'],
          branches: ['completing/cancel', 'rejected/try', 'completing/cancel'],
        },
      ],
      // the overtaken try's answer is ignored: the barrier refused it or the cancel undoes it
      ['b2 try#1 yes', { unchanged: true }],
      ['b0 cancel yes', { status: 'aborting' }],
      ['b2 cancel yes', { status: 'aborted', decision: 'abort', wakeAt: null }],
    ],
  },
  {
    name: 'retries an unknown try with backoff, then counts exhaustion as no and cancels it',
    branches: 2,
    opts: { maxAttempts: 2 },
    steps: [
      started,
      ['b0 try yes', {}],
      ['b1 try unknown@100', { status: 'running', calls: [], wakeAt: 105 }], // 0.5 * min(100, 10 * 2^0)
      ['wake@104', { unchanged: true }],
      ['wake@105', { calls: ['b1:try#2'], wakeAt: 1_000_000 }],
      [
        'b1 try unknown@200',
        {
          status: 'aborting',
          error: 'branch b1 gave no answer to try after 2 attempts',
          calls: ['b0:cancel#1', 'b1:cancel#1'],
        },
      ],
    ],
  },
  {
    name: 'cancels a try that is waiting for its retry when the deadline passes',
    branches: 2,
    opts: { deadline: 500 },
    steps: [
      started,
      ['b0 try unknown@100', { wakeAt: 105 }],
      ['b1 try yes', { status: 'running' }],
      ['wake@500', { status: 'aborting', error: 'transaction timed out', calls: ['b0:cancel#1', 'b1:cancel#1'] }],
    ],
  },
  {
    name: 'the deadline holds on every event: a last try yes processed after it aborts instead of committing',
    branches: 2,
    opts: { deadline: 500 },
    steps: [
      started,
      ['b0 try yes', {}],
      [
        'b1 try yes@500',
        {
          status: 'aborting',
          decision: 'abort',
          error: 'transaction timed out',
          calls: ['b0:cancel#1', 'b1:cancel#1'],
        },
      ],
    ],
  },
  {
    name: "an operator's abort processed after the deadline aborts with the operator's reason (it was asked first)",
    branches: 2,
    opts: { deadline: 500 },
    steps: [
      started,
      ['b0 try yes', {}],
      ['abort@500', { status: 'aborting', decision: 'abort', error: 'client', calls: ['b0:cancel#1', 'b1:cancel#1'] }],
    ],
  },
  {
    name: 'interactive: a commit asked after the deadline aborts',
    branches: 0,
    opts: { mode: 'interactive', deadline: 500 },
    steps: [
      ['start', {}],
      ['register b0', {}],
      ['b0 try yes', {}],
      ['commit@500', { status: 'aborting', decision: 'abort', calls: ['b0:cancel#1'] }],
    ],
  },
  {
    name: 'honours a client abort before the decision only',
    branches: 2,
    steps: [
      started,
      ['abort', { status: 'aborting', decision: 'abort', calls: ['b0:cancel#1', 'b1:cancel#1'] }],
      ['abort', { unchanged: true }],
      ['b0 try#1 yes', { unchanged: true }],
    ],
  },
  {
    name: 'refuses an abort and ignores the deadline once committing',
    branches: 2,
    opts: { deadline: 500 },
    steps: [
      started,
      ['b0 try yes', {}],
      ['b1 try yes', { status: 'committing' }],
      ['abort', { unchanged: true }],
      ['wake@600', { unchanged: true }],
    ],
  },
  {
    name: 'a pending transaction aborted before its start skips every branch',
    branches: 2,
    steps: [['abort', { status: 'aborted', decision: 'abort', calls: [], branches: ['skipped/try', 'skipped/try'] }]],
  },
  {
    name: 'retries a confirm answering no (a protocol error) and parks the transaction failed when out of attempts',
    branches: 2,
    opts: { maxAttempts: 2 },
    steps: [
      started,
      ['b0 try yes', {}],
      ['b1 try yes', { status: 'committing' }],
      ['b0 confirm yes', {}],
      ['b1 confirm no@10', { status: 'committing', wakeAt: 15 }],
      ['wake@20', { calls: ['b1:confirm#2'] }],
      [
        'b1 confirm unknown@30',
        {
          status: 'failed',
          decision: 'commit',
          error: 'branch b1 confirm not acknowledged after 2 attempts',
          wakeAt: null,
        },
      ],
      ['wake@10000', { unchanged: true }],
      ['recover@10000', { unchanged: true }],
      ['replay', { status: 'committing', decision: 'commit', error: null, calls: ['b1:confirm#3'] }],
      ['b1 confirm unknown@40', { status: 'committing', wakeAt: 45 }], // a fresh budget of 2
      ['wake@45', { calls: ['b1:confirm#4'] }],
      ['b1 confirm yes', { status: 'committed' }],
    ],
  },
  {
    name: 'replay is refused unless failed',
    branches: 2,
    steps: [started, ['replay', { unchanged: true }]],
  },
  {
    name: 'ignores duplicate, stale and foreign answers',
    branches: 2,
    steps: [
      started,
      ['b0 try yes', {}],
      ['b0 try#1 no', { unchanged: true }],
      ['b1 try#7 yes', { unchanged: true }],
      ['b1 confirm#1 yes', { unchanged: true }],
      ['b9 try#1 yes', { unchanged: true }],
    ],
  },
  {
    name: 'recover before the decision cancels tries succeeded, awaiting a retry and in flight alike',
    branches: 3,
    steps: [
      ['start', {}],
      ['b0 try yes', {}],
      ['b1 try unknown@10', { wakeAt: 15 }],
      [
        'recover@12',
        { status: 'aborting', decision: 'abort', calls: ['b0:cancel#1', 'b1:cancel#1', 'b2:cancel#1'], wakeAt: null },
      ],
    ],
  },
  {
    name: 'recover before the decision: presumed abort, cancel to tries in flight and succeeded',
    branches: 2,
    steps: [
      started,
      ['b0 try yes', {}],
      [
        'recover@50',
        {
          status: 'aborting',
          decision: 'abort',
          error: 'coordinator taken over before the decision: presumed abort',
          calls: ['b0:cancel#1', 'b1:cancel#1'],
        },
      ],
      ['b1 try#1 yes', { unchanged: true }],
    ],
  },
  {
    name: 'recover after the decision re-delivers the lost confirms and keeps the decision',
    branches: 2,
    steps: [
      started,
      ['b0 try yes', {}],
      ['b1 try yes', { status: 'committing' }],
      ['b0 confirm unknown@10', { wakeAt: 15 }],
      ['recover@12', { status: 'committing', decision: 'commit', calls: ['b1:confirm#2'], wakeAt: 15 }],
      ['wake@15', { calls: ['b0:confirm#2'] }],
      ['b1 confirm#1 yes', { unchanged: true }],
    ],
  },
  {
    name: 'recover after an abort decision re-delivers cancel, never confirm',
    branches: 2,
    steps: [
      started,
      ['b0 try no', { status: 'aborting', calls: ['b1:cancel#1'] }],
      ['recover@5', { status: 'aborting', decision: 'abort', calls: ['b1:cancel#2'] }],
    ],
  },
  {
    name: 'a phase mapped to null completes without a call',
    branches: 2,
    opts: { skip: { b0: ['try', 'confirm'], b1: ['cancel'] } },
    steps: [
      ['start', { calls: ['b1:try#1'], branches: ['succeeded/try', 'running/try'] }],
      [
        'b1 try yes',
        { status: 'committing', calls: ['b1:confirm#1'], branches: ['skipped/confirm', 'completing/confirm'] },
      ],
      ['b1 confirm yes', { status: 'committed' }],
    ],
  },
  {
    name: 'an abort with every cancel mapped to null ends aborted at once',
    branches: 2,
    opts: { skip: { b0: ['cancel'], b1: ['cancel'] } },
    steps: [started, ['b0 try no', { status: 'aborted', calls: [], branches: ['rejected/try', 'skipped/cancel'] }]],
  },
  {
    name: 'interactive: start runs with no branch, register tries at once, only the client commits',
    branches: 0,
    opts: { mode: 'interactive' },
    steps: [
      ['start', { status: 'running', calls: [], wakeAt: 1_000_000 }],
      ['commit', { unchanged: true }], // no branch yet: the engine answers 409
      ['register b0', { status: 'running', calls: ['b0:try#1'], branches: ['running/try'] }],
      ['register b0', { unchanged: true }], // a duplicate id
      ['commit', { unchanged: true }], // b0 has not answered
      ['b0 try yes', { status: 'running', decision: null, calls: [] }], // no commit of its own
      ['register b1', { calls: ['b1:try#1'] }],
      ['b1 try yes', { status: 'running', decision: null }],
      ['commit', { status: 'committing', decision: 'commit', calls: ['b0:confirm#1', 'b1:confirm#1'] }],
      ['register b2', { unchanged: true }], // too late
      ['commit', { unchanged: true }],
    ],
  },
  {
    name: 'interactive: a registered try answering no aborts, and later registrations and commits are refused',
    branches: 0,
    opts: { mode: 'interactive' },
    steps: [
      ['start', {}],
      ['register b0', {}],
      ['b0 try yes', {}],
      ['register b1', {}],
      ['b1 try no', { status: 'aborting', decision: 'abort', calls: ['b0:cancel#1'] }],
      ['register b2', { unchanged: true }],
      ['commit', { unchanged: true }],
    ],
  },
  {
    name: 'interactive: the deadline aborts a transaction the client never committed',
    branches: 0,
    opts: { mode: 'interactive', deadline: 500 },
    steps: [
      ['start', {}],
      ['register b0', {}],
      ['b0 try yes', {}],
      ['wake@499', { unchanged: true }],
      ['wake@500', { status: 'aborting', error: 'transaction timed out', calls: ['b0:cancel#1'] }],
    ],
  },
  {
    name: 'interactive: a registration before the start makes the transaction running',
    branches: 0,
    opts: { mode: 'interactive' },
    steps: [['register b0', { status: 'running', calls: ['b0:try#1'] }]],
  },
];

describe('tccMachine', () => {
  it.each(cases)('$name', ({ branches, opts, steps }) => {
    runScript(tccMachine, commitState(branches, 'try', opts), steps, nextWakeAt);
  });
});
