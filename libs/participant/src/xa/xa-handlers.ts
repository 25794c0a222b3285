import type { PoolClient } from 'pg';
import { Phase } from '#contracts';
import { BusinessRejection } from '../business-rejection';
import type { HandlerRegistry, PhaseHandler, PhaseHandlerContext } from '../handler-registry';
import type { PostgresXa } from './postgres-xa';

/** The business work of a prepare, on the connection whose transaction will be PREPAREd. */
export type XaPrepareWork<P, R> = (context: PhaseHandlerContext<P>, client: PoolClient) => Promise<R>;

/**
 * The three 2PC handlers of one XA branch: prepare runs `work` through {@link PostgresXa.prepare},
 * commit and rollback finish the prepared transaction. A refused or rejected prepare throws
 * {@link BusinessRejection} (a definite no, answered 409). {@link PostgresXa} makes each phase
 * exactly-once and fences a late prepare in its own log, so they run without the dispatcher's
 * barrier: a prepared transaction commits apart from any barrier row, and a barrier in front of it
 * would answer the rollback of a prepare that crashed before its barrier row committed as a null
 * one, leaving the prepared transaction (and its locks) behind.
 */
export function xaTwoPhaseHandlers<P, R>(
  xa: PostgresXa,
  work: XaPrepareWork<P, R>,
): Record<'prepare' | 'commit' | 'rollback', PhaseHandler<P>> {
  return {
    prepare: async (context) => {
      const result = await xa.prepare(context, (client) => work(context, client));
      switch (result.kind) {
        case 'applied':
          return result.value;
        case 'refused':
          throw new BusinessRejection('prepare refused: its rollback already ran');
        case 'rejected':
          throw new BusinessRejection(result.reason, result.details);
        default:
          return { xa: result.kind };
      }
    },
    commit: async (context) => ({ xa: (await xa.commit(context)).kind }),
    rollback: async (context) => ({ xa: (await xa.rollback(context)).kind }),
  };
}

/**
 * Registers {@link xaTwoPhaseHandlers} at the 2PC routes (`/2pc/{phase}`, or `/2pc/{name}/{phase}`),
 * without the barrier. In a Nest participant, call `xa.prepare`/`commit`/`rollback` from the
 * decorated methods instead, and mark them `@WithoutBarrier()`.
 */
export function registerXaTwoPhase<P, R>(
  registry: HandlerRegistry,
  xa: PostgresXa,
  work: XaPrepareWork<P, R>,
  name?: string,
): HandlerRegistry {
  const handlers = xaTwoPhaseHandlers(xa, work);
  const selfFenced = { barrier: false };
  return registry
    .register({ phase: Phase.Prepare, name }, handlers.prepare as PhaseHandler, selfFenced)
    .register({ phase: Phase.Commit, name }, handlers.commit as PhaseHandler, selfFenced)
    .register({ phase: Phase.Rollback, name }, handlers.rollback as PhaseHandler, selfFenced);
}
