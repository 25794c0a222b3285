import {
  BranchRejectedError,
  CoordinatorError,
  ForbiddenError,
  IdempotencyKeyInFlightError,
  IdempotencyKeyReusedError,
  KeyConflictError,
  KeyNotFoundError,
  MalformedJsonError,
  ParticipantConflictError,
  ParticipantNotFoundError,
  PayloadTooLargeError,
  StoreUnavailableError,
  TransactionBusyError,
  TransactionConflictError,
  TransactionNotFoundError,
  UnauthenticatedError,
  UnsupportedMediaTypeError,
  ValidationError,
  type Problem,
} from './contracts';

/** A field and the rule it broke, as a 422 answer names them. */
export interface FieldError {
  field: string;
  rule: string;
}

/** What the coordinator answered, kept on every error the client throws for an error answer. */
export interface ProblemFields {
  /** The HTTP status. */
  readonly status: number;
  /** The answer's `detail`; also the error's `message`. */
  readonly detail: string;
  /** The answer's `errors` (field-level rules of a 422), empty when it had none. */
  readonly errors: readonly FieldError[];
  /** The whole problem document. */
  readonly problem: Problem;
}

/** A contracts error class, as thrown by the client for an error answer: with the answer's fields. */
export type ProblemError<E extends CoordinatorError = CoordinatorError> = E & ProblemFields;

/**
 * The coordinator could not be reached, or the connection broke before an answer arrived. Retryable:
 * whether the request took effect is unknown, and a repeat with the same Idempotency-Key is safe.
 */
export class CoordinatorUnreachableError extends CoordinatorError {
  constructor(detail: string, cause?: unknown) {
    super('unreachable', `the coordinator did not answer: ${detail}`, true);
    if (cause !== undefined) Object.defineProperty(this, 'cause', { value: cause, enumerable: false });
  }

  /** Whether the connection was refused: the request never left, so it did nothing. */
  get neverSent(): boolean {
    return wasRefused((this as { cause?: unknown }).cause);
  }
}

/** Whether fetch's error `thrown` is a refused connection (the request never left). */
export function wasRefused(thrown: unknown): boolean {
  const cause = (thrown as { cause?: { code?: string } } | undefined)?.cause;
  return cause?.code === 'ECONNREFUSED';
}

/**
 * The contracts error class of each problem code (`/problems/<code>`). Constructor arguments that
 * the answer does not carry are placeholders: the message is replaced by the answer's `detail`.
 * Subclasses that share a code (ParticipantUnknownError, UnsafeParticipantUrlError,
 * UnsupportedProtocolError are all `validation_failed`) come back as their base class.
 */
const BY_CODE: Record<string, (p: Problem) => CoordinatorError> = {
  validation_failed: (p) => new ValidationError(p.detail, p.errors ?? []),
  payload_too_large: () => new PayloadTooLargeError(0),
  malformed_json: (p) => new MalformedJsonError(p.detail),
  unsupported_media_type: (p) => new UnsupportedMediaTypeError(p.detail),
  transaction_not_found: () => new TransactionNotFoundError(''),
  transaction_conflict: (p) => new TransactionConflictError(p.detail),
  transaction_busy: () => new TransactionBusyError(''),
  store_unavailable: (p) => new StoreUnavailableError(p.detail),
  idempotency_key_reused: () => new IdempotencyKeyReusedError(''),
  idempotency_key_in_flight: () => new IdempotencyKeyInFlightError(''),
  branch_rejected: () => new BranchRejectedError('', ''),
  participant_not_found: () => new ParticipantNotFoundError(''),
  unauthenticated: (p) => new UnauthenticatedError(p.detail),
  forbidden: (p) => new ForbiddenError(p.detail),
  key_not_found: () => new KeyNotFoundError(''),
  key_conflict: (p) => new KeyConflictError(p.detail),
  participant_conflict: (p) => new ParticipantConflictError(p.detail),
};

/** Statuses of answers that say "not now" rather than "no": nothing was written, a repeat may succeed. */
const TRANSIENT_STATUSES: readonly number[] = [502, 503, 504];

/**
 * The error an error answer stands for: the contracts class of its problem `type`, with the
 * answer's message, status and field errors. A type nobody knows becomes a plain
 * {@link CoordinatorError} with the type's last segment as its code, retryable for 502/503/504.
 */
export function errorFromProblem(problem: Problem, status: number = problem.status): ProblemError {
  const code = codeOf(problem.type) ?? `http-${status}`;
  const make = BY_CODE[code];
  const detail = problem.detail ?? problem.title ?? `HTTP ${status}`;
  const error = make
    ? withMessage(make(problem), detail)
    : new CoordinatorError(code, detail, TRANSIENT_STATUSES.includes(status));
  return Object.defineProperties(error, {
    status: { value: status, enumerable: true },
    detail: { value: detail, enumerable: true },
    errors: { value: problem.errors ?? [], enumerable: true },
    problem: { value: problem, enumerable: false },
  }) as ProblemError;
}

/**
 * The error of an error answer whatever its body: a problem document is mapped by
 * {@link errorFromProblem}; anything else (a proxy's HTML page, an empty 503) becomes a problem
 * built from the status and the start of the text.
 */
export function errorFromAnswer(status: number, body: unknown, text: string): ProblemError {
  if (isProblem(body)) return errorFromProblem(body, status);
  return errorFromProblem(
    {
      type: `/problems/http-${status}`,
      title: `HTTP ${status}`,
      status,
      detail: text.slice(0, 500) || `HTTP ${status}`,
    },
    status,
  );
}

/** Whether `error` was thrown by the client for an error answer (and so carries the answer's fields). */
export function isProblemError(error: unknown): error is ProblemError {
  return error instanceof CoordinatorError && typeof (error as Partial<ProblemFields>).status === 'number';
}

function codeOf(type: unknown): string | undefined {
  const m = typeof type === 'string' ? /\/problems\/([A-Za-z0-9_.-]+)$/.exec(type) : null;
  return m ? m[1] : undefined;
}

function isProblem(body: unknown): body is Problem {
  return typeof body === 'object' && body !== null && typeof (body as Problem).type === 'string';
}

/** Replaces the placeholder message (and the stack's first line, which repeats it) with the answer's. */
function withMessage<E extends Error>(error: E, message: string): E {
  const frames = error.stack?.indexOf('\n    at ') ?? -1;
  error.message = message;
  if (frames >= 0) error.stack = `${error.name}: ${message}${error.stack!.slice(frames)}`;
  return error;
}
