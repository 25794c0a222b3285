/**
 * A definite business "no" (insufficient funds, unknown account, out of stock).
 *
 * Thrown from the work of a barrier-guarded phase, it rolls back the local transaction (barrier rows
 * included) like any error, but it is final: an HTTP participant answers 409 and the coordinator does
 * not retry it; a forward phase that answers it rolls the whole transaction back. Anything else thrown
 * is treated as retryable (5xx).
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
