import type { Protocol } from '#contracts';
import type { ProtocolMachine } from './machine';
import { msgMachine } from './msg/msg.machine';
import { sagaMachine } from './saga/saga.machine';
import { tccMachine } from './tcc/tcc.machine';
import { threePhaseMachine } from './three-phase/three-phase.machine';
import { twoPhaseMachine } from './two-phase/two-phase.machine';

/** The machine for each protocol the engine can run; a protocol absent here is refused at the API with 422. */
export const MACHINES: Partial<Record<Protocol, ProtocolMachine>> = {
  saga: sagaMachine,
  tcc: tccMachine,
  '2pc': twoPhaseMachine,
  '3pc': threePhaseMachine,
  msg: msgMachine,
};
