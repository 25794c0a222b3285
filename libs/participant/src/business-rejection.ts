/**
 * A definite business "no" (insufficient funds, unknown account, out of stock).
 *
 * Thrown from the work of a barrier-guarded forward phase, it rolls back that work but not the
 * barrier row, which records the refusal: the no is final, and every later delivery of the phase gets
 * it again without running the work. An HTTP participant answers 409, the coordinator does not retry
 * it, and the whole transaction rolls back. Anything else thrown is treated as retryable (5xx).
 */
export class BusinessRejection extends Error {
  override readonly name = 'BusinessRejection';
  /** The HTTP status a participant answers with (409 Conflict). */
  readonly status = 409;
  /** Never retried: the same request would get the same answer. */
  readonly retryable = false;

  constructor(
    message: string,
    /** Optional machine-readable details to include in the reply body. */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}
