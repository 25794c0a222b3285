import { backoffDelay, retryAfterMs, sleep } from './backoff';
import { resolveRetry } from './client-options';

describe('backoffDelay', () => {
  const policy = { initialBackoffMs: 100, maxBackoffMs: 1_000 };

  it('doubles a ceiling per retry, capped, with half of it random', () => {
    const low = [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, policy, () => 0));
    const high = [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, policy, () => 0.999999));
    expect(low).toEqual([50, 100, 200, 400, 500, 500]);
    expect(high).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('stays within [ceiling/2, ceiling] for any random draw and retry count', () => {
    for (let i = 0; i < 1_000; i++) {
      const retry = 1 + Math.floor(Math.random() * 40);
      const d = backoffDelay(retry, policy);
      const ceiling = Math.min(1_000, 100 * 2 ** (retry - 1));
      expect(d).toBeGreaterThanOrEqual(ceiling / 2);
      expect(d).toBeLessThanOrEqual(ceiling);
    }
  });
});

describe('retryAfterMs', () => {
  it('reads delta-seconds and HTTP dates, and nothing else', () => {
    const now = Date.parse('2026-11-29T18:00:00Z');
    expect(retryAfterMs('1')).toBe(1_000);
    expect(retryAfterMs('Sun, 29 Nov 2026 18:00:03 GMT', now)).toBe(3_000);
    expect(retryAfterMs('Sun, 29 Nov 2026 17:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
  });
});

describe('sleep', () => {
  it('stops waiting as soon as the signal aborts', async () => {
    const abort = new AbortController();
    const started = Date.now();
    const slept = sleep(10_000, abort.signal);
    abort.abort(new Error('stop'));
    await expect(slept).rejects.toThrow('stop');
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe('resolveRetry', () => {
  it('fills in defaults, makes `false` a single try, and refuses nonsense', () => {
    expect(resolveRetry(undefined)).toEqual({ maxAttempts: 5, initialBackoffMs: 100, maxBackoffMs: 5_000 });
    expect(resolveRetry(false).maxAttempts).toBe(1);
    expect(resolveRetry({ maxAttempts: 2 }).maxAttempts).toBe(2);
    expect(() => resolveRetry({ maxAttempts: 0 })).toThrow(RangeError);
    expect(() => resolveRetry({ initialBackoffMs: 10, maxBackoffMs: 5 })).toThrow(RangeError);
  });
});
