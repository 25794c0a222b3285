/**
 * `@txc/client`: the initiator SDK of the txc coordinator. Start with {@link CoordinatorClient}.
 * The wire types and error classes are those of libs/contracts, re-exported here.
 */
export { CoordinatorClient } from './coordinator-client';
export type { CallOptions, CoordinatorClientOptions, RetryOptions, SubmitOptions } from './client-options';
export { DEFAULT_RETRY_OPTIONS } from './client-options';
export {
  TransactionBuilder,
  SagaBuilder,
  AtomicCommitBuilder,
  MessageBuilder,
  PHASE_OPTIONS,
} from './transaction-builders';
export type {
  BranchOptions,
  MessageOptions,
  PhasePaths,
  PreparedMessageHandle,
  TransactionOptions,
} from './transaction-builders';
export type {
  BeginTransactionInput,
  InteractiveCallback,
  InteractiveOptions,
  InteractiveProtocol,
  InteractiveTransaction,
} from './interactive-transaction';
export type { ListTransactionsFilter } from './list-query';
export type { StreamOptions, StreamedStatusChange } from './status-stream';
export { CoordinatorUnreachableError, errorFromProblem, isProblemError } from './problem-errors';
export type { FieldError, ProblemError, ProblemFields } from './problem-errors';
export { SseParser, type SseEvent } from './sse-parser';
export * from './contracts';
