import { z } from 'zod';
import { Limits } from './limits';
import { storableString } from './transaction-request.schema';

const reason = storableString.pipe(
  z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters'),
);

/** Body of replay, retry and abort of one transaction: why (recorded with the actor). */
export const operatorActionSchema = z.strictObject({ reason: reason.optional() });
export type OperatorActionRequest = z.infer<typeof operatorActionSchema>;

/** Body of an interactive commit and of a message's submit: nothing (no body, or `{}`). */
export const emptyBodySchema = z.strictObject({});

export const MAX_BULK_IDS = 1000;

/** `POST /v1/transactions/replay`: the failed transactions of a participant and/or a list of ids. */
export const bulkReplaySchema = z
  .strictObject({
    participant: storableString
      .pipe(z.string().regex(Limits.participantNamePattern, 'must be a participant name'))
      .optional(),
    ids: z
      .array(storableString.pipe(z.string().regex(Limits.idPattern, 'must be a transaction id')))
      .min(1)
      .max(MAX_BULK_IDS, `at most ${MAX_BULK_IDS} ids`)
      .optional(),
    reason,
    dryRun: z.boolean().default(false),
  })
  .refine((b) => b.participant !== undefined || b.ids !== undefined, {
    path: ['participant'],
    message: 'give participant, ids, or both',
  });
export type BulkReplayRequest = z.output<typeof bulkReplaySchema>;

export interface BulkReplayResult {
  dryRun: boolean;
  matched: number;
  /** More failed transactions match than one request handles (MAX_BULK_IDS): run it again. */
  truncated: boolean;
  ids?: string[];
  results?: { id: string; outcome: 'replayed' | 'skipped' | 'error'; detail: string | null }[];
}
