import { LogWriter } from './log-writer';

/** A writer whose first flush waits for `release` (a flush in flight); every batch is recorded. */
function firstFlushHeld(
  options: { maxBatch: number; maxConcurrentFlushes: number; slowFlushMs?: number },
  answer: (ops: number[]) => number[] = (ops) => ops,
) {
  const batches: number[][] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const writer = new LogWriter<number, number>(async (ops) => {
    batches.push(ops);
    if (batches.length === 1) await gate;
    return answer(ops);
  }, options);
  return { writer, batches, release };
}

describe('LogWriter', () => {
  it('batches ops that arrive while a flush is in flight', async () => {
    const { writer, batches, release } = firstFlushHeld({ maxBatch: 100, maxConcurrentFlushes: 1 }, (ops) =>
      ops.map((o) => o * 10),
    );
    const first = writer.submit(1);
    const rest = [2, 3, 4].map((n) => writer.submit(n));
    release();
    expect(await first).toBe(10);
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('builds an op submitted to be built at the cut only when its batch is cut', async () => {
    const { writer, batches, release } = firstFlushHeld({ maxBatch: 100, maxConcurrentFlushes: 1 });
    let idle = 0;
    const alone = writer.submitBuiltAtCut(() => ++idle); // nothing in flight: built at once
    expect(idle).toBe(1);
    let waiting = 10;
    const later = writer.submitBuiltAtCut(() => waiting);
    waiting = 20; // the flush in flight has not ended: what it will build can still change
    const failing = writer.submitBuiltAtCut(() => {
      throw new Error('cannot build');
    });
    release();
    expect(await alone).toBe(1);
    expect(await later).toBe(20);
    await expect(failing).rejects.toThrow('cannot build');
    expect(batches).toEqual([[1], [20]]);
  });

  it('starts the next flush before the callers of the one that landed resume', async () => {
    const seen: string[] = [];
    const { writer, release } = firstFlushHeld({ maxBatch: 100, maxConcurrentFlushes: 1 }, (ops) => {
      seen.push(`flush ${ops.join(',')}`);
      return ops;
    });
    const first = writer.submit(1).then(() => seen.push('caller of 1 resumes'));
    const second = writer.submit(2);
    release();
    await Promise.all([first, second]);
    expect(seen).toEqual(['flush 1', 'flush 2', 'caller of 1 resumes']);
  });

  it('isolates a failing op by retrying its batch op by op', async () => {
    let calls = 0;
    const writer = new LogWriter<number, number>(
      async (ops) => {
        calls++;
        if (calls === 1) await new Promise((r) => setTimeout(r, 5));
        if (ops.includes(13)) throw new Error('bad op');
        return ops;
      },
      { maxBatch: 100, maxConcurrentFlushes: 1 },
    );
    void writer.submit(0);
    const results = await Promise.allSettled([writer.submit(12), writer.submit(13), writer.submit(14)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });
});

describe('LogWriter with an unknown outcome', () => {
  it('fails every op of a batch whose connection broke, without retrying them one by one', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const writer = new LogWriter<number, number>(
      async (ops) => {
        batches.push(ops);
        if (batches.length === 1) {
          await gate;
          return ops;
        }
        throw new Error('Connection terminated unexpectedly');
      },
      { maxBatch: 100, maxConcurrentFlushes: 1 },
      () => false,
    );
    const first = writer.submit(0);
    const rest = Promise.allSettled([writer.submit(1), writer.submit(2)]);
    release();
    await first;
    expect((await rest).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    // a retry op by op could answer `stale`/`exists` for ops that had in fact committed
    expect(batches).toEqual([[0], [1, 2]]);
  });
});

describe('LogWriter with slowFlushMs (one flush at a time unless it is slow)', () => {
  afterEach(() => jest.useRealTimers());

  it('holds ops while a flush is in flight and writes them together next, though a second flush is allowed', async () => {
    const { writer, batches, release } = firstFlushHeld({
      maxBatch: 100,
      maxConcurrentFlushes: 2,
      slowFlushMs: 60_000,
    });
    const all = Promise.all([1, 2, 3, 4].map((n) => writer.submit(n)));
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([[1]]); // 2, 3 and 4 wait for the flush in flight
    release();
    expect(await all).toEqual([1, 2, 3, 4]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('starts the next flush once the one in flight is slow, and keeps writing past one that never ends', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick'] }); // ops are answered on a tick after the next flush starts
    const batches: number[][] = [];
    const writer = new LogWriter<number, number>(
      async (ops) => {
        batches.push(ops);
        if (batches.length === 1) await new Promise(() => undefined); // a connection that died without a word
        return ops;
      },
      { maxBatch: 100, maxConcurrentFlushes: 2, slowFlushMs: 1_000 },
    );
    void writer.submit(1);
    const waiting = Promise.all([writer.submit(2), writer.submit(3)]);
    await jest.advanceTimersByTimeAsync(999);
    expect(batches).toEqual([[1]]);
    await jest.advanceTimersByTimeAsync(1);
    expect(await waiting).toEqual([2, 3]);
    // the stuck flush is still in flight, and slow: every later op is written at once
    expect(await writer.submit(4)).toBe(4);
    expect(batches).toEqual([[1], [2, 3], [4]]);
    expect(writer.backlog).toBe(0);
  });
});
