import { atomicCommitProperties } from './atomic-commit-harness';
import { twoPhaseMachine } from './two-phase.machine';

/** As tcc.machine.property.spec.ts, for prepare / commit / rollback. */
describe('twoPhaseMachine properties', () => {
  atomicCommitProperties(twoPhaseMachine, { rounds: ['prepare'], commit: 'commit', abort: 'rollback' }, true);
});
