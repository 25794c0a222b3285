import fc from 'fast-check';
import { backoffDelayMs } from './retry-policy';

describe('backoffDelayMs', () => {
  const policy = { maxAttempts: 8, initialBackoffMs: 200, maxBackoffMs: 30_000 };

  it.each([
    [1, 0.999, 199],
    [2, 0.999, 399],
    [3, 0.5, 400],
    [20, 0.999, 29_970],
    [1, 0, 0],
  ])('attempt %i with random %f waits %i ms', (attempt, random, expected) => {
    expect(backoffDelayMs(policy, attempt, random)).toBe(expected);
  });

  it('stays within [0, cap] and the cap never exceeds maxBackoffMs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (attempt, initial, extra, random) => {
          const p = { maxAttempts: 3, initialBackoffMs: initial, maxBackoffMs: initial + extra };
          const delay = backoffDelayMs(p, attempt, random);
          return delay >= 0 && delay <= p.maxBackoffMs && Number.isInteger(delay);
        },
      ),
    );
  });
});
