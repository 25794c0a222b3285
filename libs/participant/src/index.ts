export * from './barrier';
export * from './business-rejection';
export * from './three-phase-timers';
