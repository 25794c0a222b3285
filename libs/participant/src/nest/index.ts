// The NestJS side of the participant SDK, apart from the framework-free core (../index.ts), so that
// code importing only the barrier does not load NestJS.
export * from './phase-handler.decorators';
export * from './participant-options';
export * from './participant.module';
export * from '../index';
