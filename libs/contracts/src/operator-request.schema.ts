import { z } from 'zod';
import { unstorableString } from './json-safety';
import { Limits } from './limits';

/**
 * `schema`, refusing what Postgres cannot store (see `storableString`), as a refinement after its
 * own checks rather than a pipe before them: a pipe's input is all the OpenAPI document shows, and
 * the lengths and patterns below are what a client generated from it should check.
 */
const storable = (schema: z.ZodString) =>
  schema.superRefine((s, ctx) => {
    const rule = unstorableString(s);
    if (rule) ctx.addIssue({ code: 'custom', message: rule });
  });

const reason = storable(z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters'));

/** Body of replay, retry and abort of one transaction: why (recorded with the actor). */
export const operatorActionSchema = z.strictObject({ reason: reason.optional() });
export type OperatorActionRequest = z.infer<typeof operatorActionSchema>;

/** Body of an interactive commit and of a message's submit: nothing (no body, or `{}`). */
export const emptyBodySchema = z.strictObject({});

export const MAX_BULK_IDS = 1000;

/** `POST /v1/transactions/replay`: the failed transactions of a participant and/or a list of ids. */
export const bulkReplaySchema = z
  .strictObject({
    participant: storable(z.string().regex(Limits.participantNamePattern, 'must be a participant name')).optional(),
    ids: z
      .array(storable(z.string().regex(Limits.idPattern, 'must be a transaction id')))
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
