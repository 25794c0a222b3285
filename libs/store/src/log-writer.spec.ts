import { LogWriter } from './log-writer';

describe('LogWriter', () => {
  it('batches ops that arrive while a flush is in flight', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const writer = new LogWriter<number, number>(
      async (ops) => {
        batches.push(ops);
        if (batches.length === 1) await gate;
        return ops.map((o) => o * 10);
      },
      { maxBatch: 100, maxConcurrentFlushes: 1 },
    );
    const first = writer.submit(1);
    const rest = [2, 3, 4].map((n) => writer.submit(n));
    release();
    expect(await first).toBe(10);
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
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
