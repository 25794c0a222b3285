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
    expect(await Promise.all(waits)).toEqual(Array(50).fill({ snapshot: null, stored: null, answerInFlight: false }));
    expect(waiters.size).toBe(0);
  });

  it('hands the snapshot to every waiter of a settled transaction and frees its entry', async () => {
    const waiters = new SettleWaiters();
    const a = waiters.wait('t1', 10_000);
    const b = waiters.wait('t1', 10_000);
    const other = waiters.wait('t2', 100);
    waiters.notify('t1', () => snapshot);
    expect(await Promise.all([a, b])).toEqual([
      { snapshot, stored: null, answerInFlight: false },
      { snapshot, stored: null, answerInFlight: false },
    ]);
    expect(await other).toEqual({ snapshot: null, stored: null, answerInFlight: false });
    expect(waiters.size).toBe(0);
  });

  it('ends every wait unsettled when the instance lets go of everything (a stop)', async () => {
    const waiters = new SettleWaiters();
    const waits = [waiters.wait('t1', 60_000), waiters.wait('t1', 60_000), waiters.wait('t2', 60_000)];
    waiters.releaseAll();
    expect(await Promise.all(waits)).toEqual(Array(3).fill({ snapshot: null, stored: null, answerInFlight: false }));
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
    waiters.responseWritten('t1', response!, 'stored');
    waiters.notify('t1', () => snapshot);
    expect(await keyed).toEqual({ snapshot, stored: response, answerInFlight: false });
    expect(await plain).toEqual({ snapshot, stored: null, answerInFlight: false });
  });

  it('ends a keyed wait whose answer is still being written as in flight, at its time or when let go of', async () => {
    const waiters = new SettleWaiters();
    const timed = waiters.wait('t1', 50, responder('k1'));
    waiters.respondOnSettle('t1', () => snapshot);
    // the write's outcome is unknown: the key's answer is whatever the log ends up holding
    expect(await timed).toEqual({ snapshot: null, stored: null, answerInFlight: true });

    const fenced = waiters.wait('t2', 10_000, responder('k2'));
    const response = waiters.respondOnSettle('t2', () => snapshot)!;
    waiters.notify('t2', () => null); // the instance fenced itself while the write was out
    expect(await fenced).toEqual({ snapshot: null, stored: null, answerInFlight: true });
    waiters.responseWritten('t2', response, 'stored'); // too late for anyone: nothing waits now
    expect(waiters.size).toBe(0);
  });

  it('ends a keyed wait whose write was refused (another owner) as any let-go wait', async () => {
    const waiters = new SettleWaiters();
    const keyed = waiters.wait('t1', 10_000, responder('k1'));
    const response = waiters.respondOnSettle('t1', () => snapshot)!;
    waiters.responseWritten('t1', response, 'refused');
    waiters.notify('t1', () => null);
    expect(await keyed).toEqual({ snapshot: null, stored: null, answerInFlight: false });
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
    expect(await keyed).toEqual({ snapshot, stored: null, answerInFlight: false });
  });
});
