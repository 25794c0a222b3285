export * from './barrier';
export * from './business-rejection';
export * from './three-phase-timers';
export * from './local-transaction';
