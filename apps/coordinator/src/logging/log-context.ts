import { AsyncLocalStorage } from 'node:async_hooks';

/** What every log line written while working on one transaction (or one of its branches) carries. */
export interface LogContext {
  txId: string;
  branch?: string;
}

const current = new AsyncLocalStorage<LogContext>();

/**
 * Runs `work` as work on transaction `txId`: every line it logs, and every line logged by what it
 * starts (promise continuations, timers), carries `txId`, and `branch` when given.
 */
export function aboutTransaction<T>(txId: string, work: () => T, branch?: string): T {
  return current.run(branch === undefined ? { txId } : { txId, branch }, work);
}

/** Runs `work` as work on one branch of the transaction in hand. */
export function aboutBranch<T>(branch: string, work: () => T): T {
  const outer = current.getStore();
  return outer ? current.run({ ...outer, branch }, work) : work();
}

/** The transaction (and branch) the calling code works on, if any. */
export function logContext(): LogContext | undefined {
  return current.getStore();
}
