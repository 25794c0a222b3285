/** How often and how patiently a phase is re-delivered after an unknown outcome. */
export interface RetryPolicy {
  /** Deliveries of one phase before it counts as exhausted (the first delivery included). */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

/**
 * Delay before the next delivery after `attempt` deliveries, exponential with full jitter:
 * uniform in [0, min(maxBackoffMs, initialBackoffMs * 2^(attempt-1))]. `random01` is the caller's
 * randomness in [0, 1), so the function stays pure and replayable.
 */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, random01: number): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const cap = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** exponent);
  return Math.floor(Math.min(Math.max(random01, 0), 1) * cap);
}
