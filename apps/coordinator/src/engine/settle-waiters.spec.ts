import { SettleWaiters, type SettleResponder, type Snapshot } from './settle-waiters';

const snapshot = { loaded: { lastSeq: 3, txn: { status: 'committed' } }, events: [] } as unknown as Snapshot;
const responder = (key: string): SettleResponder => ({
  key,
  reply: (s) => ({ status: 200, body: { status: s.loaded.txn.status }, headers: {} }),
});

describe('SettleWaiters', () => {
  it('frees the entry of a transaction once its last wait times out', async () => {
    const waiters = new SettleWaiters();
    // waits on transactions driven elsewhere: nobody here ever notifies them
    const waits = Array.from({ length: 50 }, (_, i) => waiters.wait(`elsewhere-${i % 10}`, 100 + (i % 3) * 50));
    expect(waiters.size).toBe(10);
    expect(await Promise.all(waits)).toEqual(Array(50).fill({ snapshot: null, stored: null }));
    expect(waiters.size).toBe(0);
  });

  it('hands the snapshot to every waiter of a settled transaction and frees its entry', async () => {
    const waiters = new SettleWaiters();
    const a = waiters.wait('t1', 10_000);
    const b = waiters.wait('t1', 10_000);
    const other = waiters.wait('t2', 100);
    waiters.notify('t1', () => snapshot);
    expect(await Promise.all([a, b])).toEqual([
      { snapshot, stored: null },
      { snapshot, stored: null },
    ]);
    expect(await other).toEqual({ snapshot: null, stored: null });
    expect(waiters.size).toBe(0);
  });

  it("builds one keyed waiter's answer for the settling write and tells that waiter it was stored", async () => {
    const waiters = new SettleWaiters();
    const plain = waiters.wait('t1', 10_000);
    const keyed = waiters.wait('t1', 10_000, responder('k1'));
    expect(waiters.respondOnSettle('nobody-waits', () => snapshot)).toBeNull();
    const response = waiters.respondOnSettle('t1', () => snapshot);
    expect(response).toEqual({ key: 'k1', status: 200, body: { status: 'committed' }, headers: {} });
    // the write is being built: no second answer for it
    expect(waiters.respondOnSettle('t1', () => snapshot)).toBeNull();
    waiters.responseWritten('t1', response!, true);
    waiters.notify('t1', () => snapshot);
    expect(await keyed).toEqual({ snapshot, stored: response });
    expect(await plain).toEqual({ snapshot, stored: null });
  });

  it('keeps a keyed wait whose answer is being written past its time, until the write is done', async () => {
    const waiters = new SettleWaiters();
    let ended = false;
    const keyed = waiters.wait('t1', 50, responder('k1')).then((o) => ((ended = true), o));
    const response = waiters.respondOnSettle('t1', () => snapshot)!;
    await new Promise((r) => setTimeout(r, 200));
    expect(ended).toBe(false); // a 202 now could contradict the 200 the write stores for the key
    waiters.responseWritten('t1', response, true);
    waiters.notify('t1', () => snapshot);
    expect(await keyed).toEqual({ snapshot, stored: response });
  });

  it('answers as before when the answer cannot be built', async () => {
    const waiters = new SettleWaiters();
    const keyed = waiters.wait('t1', 10_000, {
      key: 'k1',
      reply: () => {
        throw new Error('boom');
      },
    });
    expect(waiters.respondOnSettle('t1', () => snapshot)).toBeNull();
    waiters.notify('t1', () => snapshot);
    expect(await keyed).toEqual({ snapshot, stored: null });
  });
});
