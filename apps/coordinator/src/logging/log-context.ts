/**
 * What a log line about one transaction (or one of its branches) carries besides its message.
 *
 * The context is passed explicitly, not kept in an `AsyncLocalStorage`: on Node 20 an active
 * AsyncLocalStorage installs promise hooks that run on every promise the process makes (the pg
 * client's, undici's, Fastify's), which cost more per saga than every line the engine logs.
 */
export interface LogContext {
  txId: string;
  branch?: string;
}

/** A line about transaction `txId` (and `branch`): pass it as the logger's message. */
export function lineAbout(context: LogContext, msg: string): LogContext & { msg: string } {
  return context.branch === undefined
    ? { txId: context.txId, msg }
    : { txId: context.txId, branch: context.branch, msg };
}
