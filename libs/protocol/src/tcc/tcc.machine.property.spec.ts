import { atomicCommitProperties } from '../two-phase/atomic-commit-harness';
import { tccMachine } from './tcc.machine';

/**
 * Random interleavings (delivery order, yes/no/unknown, lost requests and replies, duplicated
 * calls and answers, coordinator crashes whose calls still land later, client aborts, clock ticks,
 * interactive registrations and commits), then a calm network, against barrier participants.
 */
describe('tccMachine properties', () => {
  atomicCommitProperties(tccMachine, { rounds: ['try'], commit: 'confirm', abort: 'cancel' }, true);
});
