/**
 * What the dashboard reads from the operator API (docs/operator-api.md): the types of
 * libs/contracts, imported as types only (nothing of the zod schemas is bundled).
 */
import type {
  ApiKeyView,
  Attention,
  CreatedApiKey,
  StatsView,
  StatsWindow,
  StatusChange,
  AttemptView,
  BranchView,
  BulkReplayResult,
  EventView,
  ParticipantInstanceView,
  ParticipantView,
  Phase,
  Problem,
  Protocol,
  Role,
  TransactionPage,
  TransactionStatus,
  TransactionSummary,
  TransactionView,
  WhoAmI,
} from '#contracts';

export type {
  ParticipantInstanceView,
  ApiKeyView,
  Attention,
  CreatedApiKey,
  StatsWindow,
  AttemptView,
  BranchView,
  BulkReplayResult,
  EventView,
  ParticipantView,
  Phase,
  Problem,
  Protocol,
  Role,
  TransactionPage,
  TransactionStatus,
  TransactionSummary,
  TransactionView,
  WhoAmI,
};

/** libs/contracts' ROLES, without bundling the zod schemas beside it. */
export const ROLES = ['viewer', 'client', 'participant', 'operator', 'admin'] as const satisfies readonly Role[];

export type Stats = StatsView;
export type StatusEvent = StatusChange;

export type OperatorAction = 'replay' | 'retry' | 'abort';
