export * from './vocabulary';
export * from './limits';
export * from './transaction-request.schema';
export * from './participant-request.schema';
export * from './participant-call';
export * from './transaction-view';
export * from './problem';
export * from './errors';
