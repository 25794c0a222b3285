import type { EntityManager } from 'typeorm';
import type { Phase, Protocol } from '#contracts';
import { phasePath, type PhaseKey } from './phase-route';

/** What a phase handler is given for one delivery. */
export interface PhaseHandlerContext<P = unknown> {
  /** The branch payload, as the initiator gave it (not validated: that is the handler's job). */
  payload: P;
  transactionId: string;
  branchId: string;
  protocol: Protocol;
  phase: Phase;
  /** 1-based count of deliveries of this phase to this branch, retries included. */
  attempt: number;
  /** ISO time after which the coordinator stops waiting for this phase, when it set one. */
  deadline?: string;
  /**
   * True when no call is behind this phase: a 3PC branch's own timer runs its do-commit (after
   * pre-commit) or abort (after can-commit) because the coordinator went silent past the deadline.
   */
  byTimer?: boolean;
  /**
   * A TypeORM EntityManager bound to the barrier's local transaction: what the handler writes with it
   * commits together with the barrier rows, or not at all. Writes through any other connection are
   * not covered by the exactly-once guarantee.
   */
  manager: EntityManager;
}

/**
 * The business work of one phase. Its JSON-serialisable result is sent back to the coordinator as
 * `{kind: 'applied', result}`, the reply the coordinator keeps as the branch's result (a forward phase's). Throw
 * {@link BusinessRejection} from a forward phase for a definite no; anything else thrown is
 * answered 500 and the coordinator retries.
 */
export type PhaseHandler<P = unknown, R = unknown> = (context: PhaseHandlerContext<P>) => Promise<R> | R;

/**
 * How a handler runs. `barrier: false` is for a handler that makes its phases exactly-once and
 * fenced itself, in a store of its own (`PostgresXa`: its prepared transaction commits apart
 * from any barrier row, so a barrier in front of it would answer a rollback whose prepare crashed
 * before its barrier row committed as a null one, and leave the prepared transaction behind). It
 * runs without the barrier's local transaction: its `manager` is the DataSource's, outside any transaction.
 */
export interface HandlerOptions {
  barrier?: boolean;
}

/** A registered handler with how it runs. */
export interface RegisteredHandler {
  handler: PhaseHandler;
  barrier: boolean;
}

/** The handlers of one participant service, keyed by phase and action name (one per route). */
export class HandlerRegistry {
  private readonly byPath = new Map<string, { key: PhaseKey } & RegisteredHandler>();

  /** Adds the handler for `key`; throws if that phase and name already have one (two would race). */
  register(key: PhaseKey, handler: PhaseHandler, options: HandlerOptions = {}): this {
    const path = phasePath(key);
    if (this.byPath.has(path)) throw new Error(`two handlers for ${path}`);
    this.byPath.set(path, { key: { ...key }, handler, barrier: options.barrier ?? true });
    return this;
  }

  /** The handler for `key`, if one was registered. */
  find(key: PhaseKey): PhaseHandler | undefined {
    return this.byPath.get(phasePath(key))?.handler;
  }

  /** The handler for `key` with how it runs, if one was registered. */
  entry(key: PhaseKey): RegisteredHandler | undefined {
    const found = this.byPath.get(phasePath(key));
    return found && { handler: found.handler, barrier: found.barrier };
  }

  /** Every registered route: its path and key, in registration order. */
  routes(): { path: string; key: PhaseKey }[] {
    return [...this.byPath].map(([path, { key }]) => ({ path, key }));
  }
}
