import { z } from 'zod';
import { findUnstorable, unstorablePathSegments, unstorableString } from './json-safety';
import { DEFAULT_RETRY, Limits } from './limits';
import { Attention, Mode, Phase, Protocol, PROTOCOL_PHASES } from './vocabulary';

const identifier = z.string().regex(Limits.idPattern, 'must be 1-128 characters of [A-Za-z0-9._:-], not "." or ".."');

/**
 * The check of a JSON value that must store and hash as sent (see findUnstorable: no NUL or lone
 * surrogate, finite numbers, at most Limits.maxJsonDepth levels) and be at most `maxBytes` of JSON.
 * The issue names the member at fault (`payload.a.b`).
 */
export function checkStorableJson(maxBytes: number) {
  return (value: unknown, ctx: z.RefinementCtx): void => {
    if (value === undefined) return;
    const bad = findUnstorable(value, Limits.maxJsonDepth);
    if (bad) {
      ctx.addIssue({ code: 'custom', path: unstorablePathSegments(bad.path), message: bad.rule });
      return;
    }
    const size = Buffer.byteLength(JSON.stringify(value));
    if (size > maxBytes)
      ctx.addIssue({ code: 'custom', message: `must be at most ${maxBytes} bytes of JSON (got ${size})` });
  };
}

/** A string Postgres can store: no NUL, no lone surrogate. */
export const storableString = z.string().superRefine((s, ctx) => {
  const rule = unstorableString(s);
  if (rule) ctx.addIssue({ code: 'custom', message: rule });
});

/**
 * A query number: decimal digits only (no sign, exponent, hex, fraction or spaces, which Number()
 * would take), of any length: zero-padded is read as its value, a long one fails the range.
 */
function decimalInteger(min: number, max: number) {
  return z
    .string()
    .regex(/^\d+$/, 'must be a decimal integer')
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
}

/** Per-transaction retry overrides; omitted fields take {@link DEFAULT_RETRY}. */
export const retryPolicySchema = z
  .object({
    maxAttempts: z.number().int().min(1).max(Limits.maxAttempts).default(DEFAULT_RETRY.maxAttempts),
    initialBackoffMs: z.number().int().min(0).max(Limits.maxBackoffMs).optional().meta({
      default: DEFAULT_RETRY.initialBackoffMs,
      description: 'default 200, or maxBackoffMs when that is lower',
    }),
    maxBackoffMs: z.number().int().min(0).max(Limits.maxBackoffMs).optional().meta({
      default: DEFAULT_RETRY.maxBackoffMs,
      description: 'at least initialBackoffMs; default 30000, or initialBackoffMs when that is higher',
    }),
  })
  .strict()
  .refine(
    (r) => r.initialBackoffMs === undefined || r.maxBackoffMs === undefined || r.maxBackoffMs >= r.initialBackoffMs,
    {
      message: 'must be at least initialBackoffMs',
      path: ['maxBackoffMs'],
    },
  )
  // a backoff left out follows the one given, so a default never contradicts it: an initial backoff
  // past the default cap raises the cap, a cap under the default initial backoff lowers it
  .transform(({ maxAttempts, initialBackoffMs, maxBackoffMs }) => {
    const initial = initialBackoffMs ?? Math.min(DEFAULT_RETRY.initialBackoffMs, maxBackoffMs ?? Infinity);
    return {
      maxAttempts,
      initialBackoffMs: initial,
      maxBackoffMs: maxBackoffMs ?? Math.max(DEFAULT_RETRY.maxBackoffMs, initial),
    };
  });
export type RetryPolicy = z.output<typeof retryPolicySchema>;

const path = z
  .string()
  .max(512)
  .regex(
    /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/,
    'must be an absolute path starting with "/", without a query or fragment',
  )
  // a URL resolves them: `/../admin` would leave the base path of the participant's URL
  .refine((p) => !/(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i.test(p), 'must not hold a "." or ".." segment');

export const branchRequestSchema = z
  .object({
    id: identifier,
    participant: z.string().regex(Limits.participantNamePattern, 'must be a registered participant name'),
    payload: z.unknown().superRefine(checkStorableJson(Limits.maxPayloadBytes)).optional(),
    dependsOn: z.array(identifier).max(Limits.maxBranches).optional(),
    paths: z.partialRecord(z.enum(Object.values(Phase) as [Phase, ...Phase[]]), path.nullable()).optional(),
  })
  .strict();
export type BranchRequest = z.output<typeof branchRequestSchema>;

/** A prepared message's check: `POST {participant's url}{path}` asks the sender whether it committed. */
export const messageCheckSchema = z
  .object({
    participant: z.string().regex(Limits.participantNamePattern, 'must be a registered participant name'),
    path,
  })
  .strict();
export type MessageCheck = z.output<typeof messageCheckSchema>;

/** Body of `POST /v1/transactions/{id}/branches` (interactive TCC/2PC): a branch without dependencies. */
export const interactiveBranchSchema = branchRequestSchema.omit({ dependsOn: true });

/** Body of `POST /v1/transactions`. Cross-field rules (unique ids, known dependencies, no cycles, phases of the protocol) are checked here too. */
export const startTransactionSchema = z
  .object({
    id: identifier.optional(),
    protocol: z.enum(Object.values(Protocol) as [Protocol, ...Protocol[]]),
    mode: z.enum(Object.values(Mode) as [Mode, ...Mode[]]).default(Mode.Driven),
    timeoutMs: z.number().int().min(Limits.minTimeoutMs).max(Limits.maxTimeoutMs).default(Limits.defaultTimeoutMs),
    retry: retryPolicySchema.default(DEFAULT_RETRY).meta({ default: DEFAULT_RETRY }),
    branches: z.array(branchRequestSchema).max(Limits.maxBranches).default([]),
    /** msg, prepared mode: how long the message waits for its submit before the check is asked (default Limits.defaultCheckAfterMs). */
    checkAfterMs: z.number().int().min(Limits.minCheckAfterMs).max(Limits.maxTimeoutMs).optional(),
    /** msg, prepared mode: the sender's check endpoint. */
    check: messageCheckSchema.optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    checkMessageFields(body, ctx);
    if (body.mode !== Mode.Interactive && body.branches.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['branches'],
        message: `must hold at least one branch in ${body.mode} mode`,
      });
    }
    if (body.mode === Mode.Interactive && body.branches.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['branches'],
        message: 'must be empty in interactive mode: register branches with POST /v1/transactions/{id}/branches',
      });
    }
    const ids = new Set<string>();
    body.branches.forEach((branch, i) => {
      if (ids.has(branch.id)) {
        ctx.addIssue({ code: 'custom', path: ['branches', i, 'id'], message: `duplicate branch id "${branch.id}"` });
      }
      ids.add(branch.id);
      for (const phase of Object.keys(branch.paths ?? {})) {
        if (!PROTOCOL_PHASES[body.protocol].includes(phase as Phase)) {
          ctx.addIssue({
            code: 'custom',
            path: ['branches', i, 'paths', phase],
            message: `is not a phase of ${body.protocol} (${PROTOCOL_PHASES[body.protocol].join(', ')})`,
          });
        }
      }
    });
    body.branches.forEach((branch, i) => {
      (branch.dependsOn ?? []).forEach((dep, j, deps) => {
        if (deps.indexOf(dep) < j) {
          ctx.addIssue({ code: 'custom', path: ['branches', i, 'dependsOn', j], message: `repeats branch "${dep}"` });
        } else if (!ids.has(dep)) {
          ctx.addIssue({ code: 'custom', path: ['branches', i, 'dependsOn', j], message: `unknown branch "${dep}"` });
        } else if (dep === branch.id) {
          ctx.addIssue({
            code: 'custom',
            path: ['branches', i, 'dependsOn', j],
            message: 'a branch cannot depend on itself',
          });
        }
      });
      if (branch.dependsOn && body.protocol !== Protocol.Saga && body.protocol !== Protocol.Msg) {
        ctx.addIssue({
          code: 'custom',
          path: ['branches', i, 'dependsOn'],
          message: 'is only allowed for sagas and messages',
        });
      }
    });
    const cycle = findCycle(body.branches);
    if (cycle) {
      ctx.addIssue({ code: 'custom', path: ['branches'], message: `dependsOn forms a cycle: ${cycle.join(' -> ')}` });
    }
  });
export type StartTransactionRequest = z.output<typeof startTransactionSchema>;

/** The reliable-message rules of a start body: modes, the check, and fields no other protocol takes. */
function checkMessageFields(
  body: { protocol: Protocol; mode: Mode; timeoutMs: number; checkAfterMs?: number; check?: MessageCheck },
  ctx: z.RefinementCtx,
): void {
  if (body.protocol !== Protocol.Msg) {
    if (body.mode === Mode.Prepared) {
      ctx.addIssue({ code: 'custom', path: ['mode'], message: 'prepared is only for protocol msg' });
    }
    for (const field of ['checkAfterMs', 'check'] as const) {
      if (body[field] !== undefined)
        ctx.addIssue({ code: 'custom', path: [field], message: 'is only for protocol msg' });
    }
    return;
  }
  if (body.mode === Mode.Interactive) {
    ctx.addIssue({ code: 'custom', path: ['mode'], message: 'must be driven or prepared for protocol msg' });
  }
  if (body.mode !== Mode.Prepared) {
    // delivered at once and never checked: a check given here would be dropped without a word
    for (const field of ['checkAfterMs', 'check'] as const) {
      if (body[field] !== undefined) {
        const rule =
          'is only for a prepared message (mode "prepared"): a driven message is delivered at once, unchecked';
        ctx.addIssue({ code: 'custom', path: [field], message: rule });
      }
    }
    return;
  }
  if (!body.check) {
    ctx.addIssue({
      code: 'custom',
      path: ['check'],
      message: "is required in prepared mode: {participant, path} of the sender's check endpoint",
    });
  }
  const checkAfterMs = body.checkAfterMs ?? Limits.defaultCheckAfterMs;
  if (checkAfterMs >= body.timeoutMs) {
    ctx.addIssue({
      code: 'custom',
      path: ['checkAfterMs'],
      message:
        `must be less than timeoutMs (${body.timeoutMs}): the check is asked before the deadline ` +
        `(got ${body.checkAfterMs === undefined ? 'the default, ' : ''}${checkAfterMs})`,
    });
  }
}

/** A cycle in the `dependsOn` graph as a list of branch ids (first repeated last), or null. */
export function findCycle(branches: readonly { id: string; dependsOn?: readonly string[] }[]): string[] | null {
  const deps = new Map(branches.map((b) => [b.id, b.dependsOn ?? []]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | null => {
    if (state.get(id) === 'done' || !deps.has(id)) return null;
    if (state.get(id) === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const dep of deps.get(id) ?? []) {
      const found = visit(dep);
      if (found) return found;
    }
    stack.pop();
    state.set(id, 'done');
    return null;
  };
  for (const id of deps.keys()) {
    const found = visit(id);
    if (found) return found;
  }
  return null;
}

/** An ISO 8601 time with a zone, as the list's `from` and `to` take it (the CLI checks with it too). */
export const isoTimeWithZone = z.iso.datetime({
  offset: true,
  message: 'must be an ISO 8601 time with a zone, e.g. 2026-11-29T18:00:00Z',
});
const isoTime = isoTimeWithZone.transform((t) => new Date(t));

/** Query of `GET /v1/transactions`. */
export const listTransactionsQuerySchema = z
  .object({
    status: storableString.optional(),
    protocol: z.enum(Object.values(Protocol) as [Protocol, ...Protocol[]]).optional(),
    participant: storableString.pipe(z.string().max(63)).optional(),
    // an id, an id prefix or an Idempotency-Key: as long as the longest of them
    q: storableString.pipe(z.string().max(Limits.maxIdempotencyKeyLength)).optional(),
    limit: decimalInteger(1, Limits.maxPageSize).default(Limits.defaultPageSize),
    cursor: storableString.pipe(z.string().max(512)).optional(),
    attention: z.enum(Object.values(Attention) as [Attention, ...Attention[]]).optional(),
    from: isoTime.optional(),
    to: isoTime.optional(),
  })
  .strict();
export type ListTransactionsQuery = z.output<typeof listTransactionsQuerySchema>;
