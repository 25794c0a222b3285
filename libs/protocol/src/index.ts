export * from './machine';
export * from './retry/retry-policy';
export * from './saga/saga.machine';
export * from './machine-registry';
export * from './outcome';
