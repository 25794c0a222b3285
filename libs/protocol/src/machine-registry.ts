import type { Protocol } from '#contracts';
import type { ProtocolMachine } from './machine';
import { sagaMachine } from './saga/saga.machine';

/** The machine for each protocol the engine can run; a protocol absent here is refused at the API with 422. */
export const MACHINES: Partial<Record<Protocol, ProtocolMachine>> = {
  saga: sagaMachine,
};
