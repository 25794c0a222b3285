/**
 * The client's one door into `libs/contracts`.
 *
 * `libs/client/package.json` makes this folder a package scope of its own, so the root's `#contracts`
 * subpath import does not resolve here; every other module of the client imports contracts through
 * this file instead. Types come from the contracts' entry point and are erased at compile time;
 * runtime values come only from the zod-free modules (errors, vocabulary, problem), so loading the
 * client never loads zod. When the client is packaged, this file's closure is what gets bundled.
 */
import type { z } from 'zod';
import type {
  bulkReplaySchema,
  interactiveBranchSchema,
  registerParticipantSchema,
  startTransactionSchema,
} from '../../contracts/src/index';

export type {
  ApiKeyView,
  BranchView,
  BulkReplayResult,
  CreateKeyRequest,
  CreatedApiKey,
  ListTransactionsQuery,
  OperatorActionRequest,
  ParticipantView,
  Problem,
  RetryPolicy,
  StatsView,
  StatsWindow,
  StatusChange,
  TransactionPage,
  TransactionSummary,
  TransactionView,
  WhoAmI,
} from '../../contracts/src/index';
export * from '../../contracts/src/errors';
export * from '../../contracts/src/vocabulary';
export { PROBLEM_CONTENT_TYPE } from '../../contracts/src/problem';
export { Limits } from '../../contracts/src/limits';
export { coordinatorBaseUrl } from '../../contracts/src/coordinator-url';

/** Body of `POST /v1/transactions` as a caller writes it: defaults (mode, timeout, retry) may be left out. */
export type StartTransactionInput = z.input<typeof startTransactionSchema>;
/** One branch of a start body, as a caller writes it. */
export type BranchInput = NonNullable<StartTransactionInput['branches']>[number];
/** Body of `POST /v1/transactions/{id}/branches` (interactive TCC/2PC). */
export type InteractiveBranchInput = z.input<typeof interactiveBranchSchema>;
/** Body of `POST /v1/participants`. */
export type RegisterParticipantInput = z.input<typeof registerParticipantSchema>;
/** Body of `POST /v1/transactions/replay`; `dryRun` defaults to false. */
export type BulkReplayInput = z.input<typeof bulkReplaySchema>;
