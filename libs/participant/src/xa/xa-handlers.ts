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
 * {@link BusinessRejection} (a definite no, answered 409). They run behind the dispatcher's barrier
 * like any handler; the barrier's own transaction (`context.manager`) is not the prepared one, and
 * both are idempotent, so a crash between them is healed by the redelivery.
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
 * Registers {@link xaTwoPhaseHandlers} at the 2PC routes (`/2pc/{phase}`, or `/2pc/{name}/{phase}`).
 * In a Nest participant, call `xa.prepare`/`commit`/`rollback` from the decorated methods instead.
 */
export function registerXaTwoPhase<P, R>(
  registry: HandlerRegistry,
  xa: PostgresXa,
  work: XaPrepareWork<P, R>,
  name?: string,
): HandlerRegistry {
  const handlers = xaTwoPhaseHandlers(xa, work);
  return registry
    .register({ phase: Phase.Prepare, name }, handlers.prepare as PhaseHandler)
    .register({ phase: Phase.Commit, name }, handlers.commit as PhaseHandler)
    .register({ phase: Phase.Rollback, name }, handlers.rollback as PhaseHandler);
}
