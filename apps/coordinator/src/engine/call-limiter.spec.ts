import { ParticipantLimiter, shareOf, type Permit } from './call-limiter';

describe('ParticipantLimiter', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  it('keeps at most maxConcurrency permits out, serving waiters first come first served', async () => {
    const limiter = new ParticipantLimiter({ maxConcurrency: 2, ratePerSecond: null });
    const order: number[] = [];
    const permits: Permit[] = [];
    const all = [0, 1, 2, 3].map((n) =>
      limiter.acquire(10_000).then((p) => {
        order.push(n);
        permits.push(p!);
      }),
    );
    await Promise.resolve();
    await Promise.resolve();
    expect(order).toEqual([0, 1]);
    expect(limiter.active).toBe(2);
    permits[0]();
    permits[0](); // a second release of the same permit changes nothing
    await Promise.resolve();
    expect(order).toEqual([0, 1, 2]);
    expect(limiter.active).toBe(2);
    permits[1]();
    await Promise.all(all);
    expect(order).toEqual([0, 1, 2, 3]);
  });

  it('answers null to a waiter not served within its wait', async () => {
    const limiter = new ParticipantLimiter({ maxConcurrency: 1, ratePerSecond: null });
    await limiter.acquire(1_000);
    const late = limiter.acquire(1_000);
    jest.advanceTimersByTime(1_000);
    await expect(late).resolves.toBeNull();
    expect(limiter.active).toBe(1);
  });

  it('hands out tokens at the rate, with a burst of at most a tenth of a second', async () => {
    const limiter = new ParticipantLimiter({ maxConcurrency: null, ratePerSecond: 50 });
    let granted = 0;
    for (let i = 0; i < 200; i++) void limiter.acquire(60_000).then((p) => (granted += p ? 1 : 0));
    await Promise.resolve();
    expect(granted).toBe(5);
    for (let ms = 0; ms < 2_000; ms += 10) {
      jest.advanceTimersByTime(10);
      await Promise.resolve();
    }
    // two seconds at 50/s after the first five
    expect(granted).toBeGreaterThanOrEqual(100);
    expect(granted).toBeLessThanOrEqual(106);
  });
});

describe('ParticipantLimiter.expectedWaitMs', () => {
  it('foresees the wait of a newcomer behind the queue at the rate, and none without a rate', () => {
    jest.useFakeTimers({ now: 0 });
    const paced = new ParticipantLimiter({ maxConcurrency: null, ratePerSecond: 10 });
    expect(paced.expectedWaitMs()).toBe(0); // one token in the bucket
    void paced.acquire(60_000);
    for (let i = 0; i < 19; i++) void paced.acquire(60_000);
    // 19 waiting, the newcomer is the 20th: 2 s at 10/s
    expect(paced.expectedWaitMs()).toBe(2_000);
    // calls that go away are promised the next tokens, one every 100 ms
    expect(paced.book()).toBe(2_100);
    expect(paced.book()).toBe(2_200);
    expect(paced.expectedWaitMs()).toBe(2_200);
    expect(new ParticipantLimiter({ maxConcurrency: 1, ratePerSecond: null }).expectedWaitMs()).toBe(0);
    jest.useRealTimers();
  });
});

describe('shareOf', () => {
  it('divides the concurrency so that the shares add up to the limit', () => {
    const shares = [0, 1, 2].map((rank) => shareOf({ maxConcurrency: 4, ratePerSecond: 30 }, 3, rank));
    expect(shares.map((s) => s.maxConcurrency)).toEqual([2, 1, 1]);
    expect(shares.map((s) => s.ratePerSecond)).toEqual([10, 10, 10]);
  });

  it('gives nothing to the coordinators past the limit, and everything to a lone one', () => {
    expect([0, 1, 2].map((r) => shareOf({ maxConcurrency: 2, ratePerSecond: null }, 3, r).maxConcurrency)).toEqual([
      1, 1, 0,
    ]);
    expect(shareOf({ maxConcurrency: 7, ratePerSecond: null }, 1, 0)).toEqual({
      maxConcurrency: 7,
      ratePerSecond: null,
    });
  });
});
