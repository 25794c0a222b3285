import { SettleWaiters, type Snapshot } from './settle-waiters';

describe('SettleWaiters', () => {
  it('frees the entry of a transaction once its last wait times out', async () => {
    const waiters = new SettleWaiters();
    // waits on transactions driven elsewhere: nobody here ever notifies them
    const waits = Array.from({ length: 50 }, (_, i) => waiters.wait(`elsewhere-${i % 10}`, 100 + (i % 3) * 50));
    expect(waiters.size).toBe(10);
    expect(await Promise.all(waits)).toEqual(Array(50).fill(null));
    expect(waiters.size).toBe(0);
  });

  it('hands the snapshot to every waiter of a settled transaction and frees its entry', async () => {
    const waiters = new SettleWaiters();
    const snapshot = { loaded: { lastSeq: 3 }, events: [] } as unknown as Snapshot;
    const a = waiters.wait('t1', 10_000);
    const b = waiters.wait('t1', 10_000);
    const other = waiters.wait('t2', 100);
    waiters.notify('t1', () => snapshot);
    expect(await Promise.all([a, b])).toEqual([snapshot, snapshot]);
    expect(await other).toBeNull();
    expect(waiters.size).toBe(0);
  });
});
