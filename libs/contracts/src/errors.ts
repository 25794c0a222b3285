/**
 * Errors with a stable `code` and a `retryable` flag. Whether an error is worth retrying is a
 * property of the error, not of the place that catches it. The coordinator maps each code to an
 * HTTP status in one exception filter; SDKs map problem responses back to these classes.
 */
export class CoordinatorError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable = false,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The request broke one or more rules; `errors` names each field and rule. Nothing was written. */
export class ValidationError extends CoordinatorError {
  constructor(
    message: string,
    readonly errors: { field: string; rule: string }[],
  ) {
    super('validation_failed', message);
  }
}

export class PayloadTooLargeError extends CoordinatorError {
  constructor(limitBytes: number) {
    super('payload_too_large', `the request body is larger than ${limitBytes} bytes`);
  }
}

export class MalformedJsonError extends CoordinatorError {
  constructor(detail: string) {
    super('malformed_json', `the request body is not valid JSON: ${detail}`);
  }
}

/** A body of another media type, a charset other than UTF-8, or a Content-Encoding other than identity. */
export class UnsupportedMediaTypeError extends CoordinatorError {
  constructor(detail = 'the request body must be application/json') {
    super('unsupported_media_type', detail);
  }
}

export class TransactionNotFoundError extends CoordinatorError {
  constructor(id: string) {
    super('transaction_not_found', `no transaction with id "${id}"`);
  }
}

/** The transaction exists in a state that forbids the request (abort after the decision, replay of a non-failed one, same id with another body). */
export class TransactionConflictError extends CoordinatorError {
  constructor(message: string) {
    super('transaction_conflict', message);
  }
}

/** Another live instance holds the transaction right now; the same request may succeed shortly. */
export class TransactionBusyError extends CoordinatorError {
  constructor(id: string, detail = `transaction "${id}" is busy on another instance; retry`) {
    super('transaction_busy', detail, true);
  }
}

/** The log database did not answer in time: a write may still have landed. Repeat a write only with the same Idempotency-Key. */
export class StoreUnavailableError extends CoordinatorError {
  constructor(detail: string) {
    super('store_unavailable', `the transaction log is unavailable: ${detail}`, true);
  }
}

/** The Idempotency-Key was used before with a different request. */
export class IdempotencyKeyReusedError extends CoordinatorError {
  constructor(key: string) {
    super(
      'idempotency_key_reused',
      `Idempotency-Key "${key}" was used with a different request (or by another API key: a key belongs to the caller that first sent it)`,
    );
  }
}

/** The first request with this Idempotency-Key is still being processed; try again shortly. */
export class IdempotencyKeyInFlightError extends CoordinatorError {
  constructor(key: string) {
    super('idempotency_key_in_flight', `a request with Idempotency-Key "${key}" is still in progress`, true);
  }
}

/** Interactive mode: the branch's try/prepare answered no (or gave no answer within its attempts). */
export class BranchRejectedError extends CoordinatorError {
  /** `why`: what happened instead (its no, no answer within its attempts, an abort that came first). */
  constructor(branchId: string, why: string) {
    super('branch_rejected', `branch "${branchId}" did not say yes: ${why}`);
  }
}

export class ParticipantUnknownError extends ValidationError {
  constructor(field: string, name: string) {
    super(`participant "${name}" is not registered`, [{ field, rule: `participant "${name}" is not registered` }]);
  }
}

export class ParticipantNotFoundError extends CoordinatorError {
  constructor(name: string, instanceId?: string) {
    super(
      'participant_not_found',
      instanceId === undefined
        ? `no participant named "${name}"`
        : `participant "${name}" has no instance "${instanceId}" (register it again)`,
    );
  }
}

/** A participant request that the registry as it is forbids: a heartbeat of an instance that left (409). */
export class ParticipantConflictError extends CoordinatorError {
  constructor(message: string) {
    super('participant_conflict', message);
  }
}

/** A participant URL that the coordinator refuses to call (link-local, metadata, outside the allow-list). */
export class UnsafeParticipantUrlError extends ValidationError {
  constructor(reason: string) {
    super(`participant url refused: ${reason}`, [{ field: 'url', rule: reason }]);
  }
}

/** The protocol or mode is valid but not available in this version. */
export class UnsupportedProtocolError extends ValidationError {
  constructor(what: string) {
    super(`${what} is not supported yet`, [{ field: 'protocol', rule: `${what} is not supported yet` }]);
  }
}

/** No API key, or one nobody knows (401). */
export class UnauthenticatedError extends CoordinatorError {
  constructor(detail: string) {
    super('unauthenticated', detail);
  }
}

/** A known API key whose role does not allow the request (403). */
export class ForbiddenError extends CoordinatorError {
  constructor(detail: string) {
    super('forbidden', detail);
  }
}

export class KeyNotFoundError extends CoordinatorError {
  constructor(name: string) {
    super('key_not_found', `no stored API key named "${name}"`);
  }
}

/** An API key request that the keys as they are forbid: a name taken, a key of API_KEYS, the last key (409). */
export class KeyConflictError extends CoordinatorError {
  constructor(message: string) {
    super('key_conflict', message);
  }
}
