import 'reflect-metadata';
import { Phase, Protocol } from '#contracts';
import { phasePath, type PhaseKey } from '../phase-route';

/** Metadata key under which a method's phase routes are kept. */
export const PHASE_HANDLER_METADATA = 'txc:phase-handler';

/**
 * Marks a method of a Nest provider or controller as the handler of `phase` (of the action `name`,
 * when given). {@link ParticipantModule} discovers it and serves it at `/{protocol}/{phase}`, or
 * `/{protocol}/{name}/{phase}` with a name. The method receives a {@link PhaseHandlerContext}.
 * One method may carry several of these decorators.
 */
export function PhaseHandlerFor(phase: Phase, name?: string, protocol?: Protocol): MethodDecorator {
  const key: PhaseKey = {
    phase,
    ...(protocol === undefined ? {} : { protocol }),
    ...(name === undefined ? {} : { name }),
  };
  phasePath(key); // a bad name fails when the class is loaded, not at the first call
  return (_target, _property, descriptor) => {
    const handler = descriptor.value as object;
    const keys = (Reflect.getMetadata(PHASE_HANDLER_METADATA, handler) as PhaseKey[] | undefined) ?? [];
    Reflect.defineMetadata(PHASE_HANDLER_METADATA, [...keys, key], handler);
  };
}

/** Metadata key of {@link WithoutBarrier}. */
export const WITHOUT_BARRIER_METADATA = 'txc:without-barrier';

/**
 * Runs the method's phases without the barrier, for a handler that makes them exactly-once and
 * fenced itself: the XA methods that call `PostgresXa`'s prepare, commit and rollback (a prepared
 * transaction commits apart from the barrier's rows, so the barrier could answer a rollback as a
 * null one and leave it prepared). The context's `manager` is then outside any transaction.
 */
export function WithoutBarrier(): MethodDecorator {
  return (_target, _property, descriptor) => {
    Reflect.defineMetadata(WITHOUT_BARRIER_METADATA, true, descriptor.value as object);
  };
}

/** Whether {@link WithoutBarrier} marks `method`. */
export function runsWithoutBarrier(method: unknown): boolean {
  return typeof method === 'function' && Reflect.getMetadata(WITHOUT_BARRIER_METADATA, method) === true;
}

/** The phase routes {@link PhaseHandlerFor} put on `method`, if any. */
export function phaseKeysOf(method: unknown): PhaseKey[] {
  if (typeof method !== 'function') return [];
  return (Reflect.getMetadata(PHASE_HANDLER_METADATA, method) as PhaseKey[] | undefined) ?? [];
}

/** Saga forward step, served at `/saga/action` (or `/saga/{name}/action`). */
export const SagaAction = (name?: string) => PhaseHandlerFor(Phase.Action, name);
/** Saga undo of {@link SagaAction}, served at `/saga/compensate` (or `/saga/{name}/compensate`). */
export const SagaCompensate = (name?: string) => PhaseHandlerFor(Phase.Compensate, name);

/** TCC reservation, served at `/tcc/try` (or `/tcc/{name}/try`). */
export const TccTry = (name?: string) => PhaseHandlerFor(Phase.Try, name);
/** TCC confirmation of a reservation, served at `/tcc/confirm` (or `/tcc/{name}/confirm`). */
export const TccConfirm = (name?: string) => PhaseHandlerFor(Phase.Confirm, name);
/** TCC release of a reservation, served at `/tcc/cancel` (or `/tcc/{name}/cancel`). */
export const TccCancel = (name?: string) => PhaseHandlerFor(Phase.Cancel, name);

/** 2PC vote, served at `/2pc/prepare` (or `/2pc/{name}/prepare`). */
export const TwoPhasePrepare = (name?: string) => PhaseHandlerFor(Phase.Prepare, name);
/** 2PC commit of a prepared branch, served at `/2pc/commit` (or `/2pc/{name}/commit`). */
export const TwoPhaseCommit = (name?: string) => PhaseHandlerFor(Phase.Commit, name);
/** 2PC rollback, served at `/2pc/rollback` (or `/2pc/{name}/rollback`). */
export const TwoPhaseRollback = (name?: string) => PhaseHandlerFor(Phase.Rollback, name);

/** 3PC vote, served at `/3pc/can-commit` (or `/3pc/{name}/can-commit`). */
export const ThreePhaseCanCommit = (name?: string) => PhaseHandlerFor(Phase.CanCommit, name);
/** 3PC pre-commit, served at `/3pc/pre-commit` (or `/3pc/{name}/pre-commit`). */
export const ThreePhasePreCommit = (name?: string) => PhaseHandlerFor(Phase.PreCommit, name);
/** 3PC final commit, served at `/3pc/do-commit` (or `/3pc/{name}/do-commit`). */
export const ThreePhaseDoCommit = (name?: string) => PhaseHandlerFor(Phase.DoCommit, name);
/** 3PC abort, served at `/3pc/abort` (or `/3pc/{name}/abort`). */
export const ThreePhaseAbort = (name?: string) => PhaseHandlerFor(Phase.Abort, name);

/**
 * A reliable message's consumer, served at `/msg/action` (or `/msg/{name}/action`): called once the
 * sender committed, exactly once in effect behind the barrier. Throw `BusinessRejection` for a no:
 * the message is parked `failed` (nothing is undone), and the refusal is not kept, so an operator's
 * replay may deliver it again once the cause is fixed.
 */
export const MessageHandler = (name?: string) => PhaseHandlerFor(Phase.Action, name, Protocol.Msg);
