import { atomicCommitProperties } from '../two-phase/atomic-commit-harness';
import { threePhaseMachine } from './three-phase.machine';

/**
 * As tcc.machine.property.spec.ts, for can-commit / pre-commit / do-commit / abort, driven mode
 * (`register` and `commit` steps are drawn too: 3PC must ignore them). The participants here wait
 * for the coordinator; their own timers, and what they cannot make safe, are covered by the
 * scenarios in three-phase.machine.spec.ts.
 */
describe('threePhaseMachine properties', () => {
  atomicCommitProperties(
    threePhaseMachine,
    { rounds: ['can-commit', 'pre-commit'], commit: 'do-commit', abort: 'abort' },
    false,
  );
});
