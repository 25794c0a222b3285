export * from './machine';
export * from './retry/retry-policy';
export * from './saga/saga.machine';
export * from './tcc/tcc.machine';
export * from './two-phase/two-phase.machine';
export * from './three-phase/three-phase.machine';
export * from './machine-registry';
export * from './outcome';
