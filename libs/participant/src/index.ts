// Framework-free: loads neither NestJS nor Fastify (Nest 12 is ESM-only, which Jest on Node 20
// cannot load). The NestJS module is the separate entry point ./nest.
export * from './barrier';
export * from './business-rejection';
export * from './three-phase-timers';
export * from './three-phase-participant-options';
export * from './three-phase-participant';
export * from './three-phase-handlers';
export * from './local-transaction';
export * from './signature';
export * from './phase-route';
export * from './handler-registry';
export * from './phase-reply';
export * from './phase-dispatcher';
export * from './outbox';
export * from './typeorm-local-transaction';
export * from './participant-lease';
export * from './broker-delivery';
export * from './xa';
export { parseTraceparent, inPhaseSpan } from './phase-trace';
