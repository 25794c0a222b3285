// the build config (tsconfig.build.json) compiles *.int-spec.ts with types ["node"] only
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { FreshDatabase } from '#testing';
import { migratedDatabase } from './migrated-database-fixtures';
import { runningTransaction } from './transaction-record-fixtures';
import { PgTransactionStore } from './transaction-store.pg';
import type { AdvanceOp, BranchRecord, CreateOp, NewEvent, StoreOp, TransactionRecord } from './transaction-store';

/**
 * `txc_apply` through {@link PgTransactionStore.apply}, on a fresh database migrated as the
 * coordinator migrates it: every op and every result, what each writes and what it leaves alone,
 * the op-by-op retry of a refused batch, and the reads (`load`, `events`, `list`).
 */
describe('PgTransactionStore.apply / txc_apply (real Postgres)', () => {
  let db: FreshDatabase;
  let pool: Pool;
  let store: PgTransactionStore;
  /** Sizes of the `txc_apply` batches sent to Postgres, in order. */
  const batches: number[] = [];

  beforeAll(async () => {
    ({ db, pool } = await migratedDatabase('txc_apply', 4));
    store = new PgTransactionStore(countingBatches(pool));
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  /** A pool whose `txc_apply` calls are recorded in `batches`. */
  function countingBatches(target: Pool): Pool {
    const query = (text: unknown, values?: unknown[]) => {
      if (typeof text === 'string' && text.includes('txc_apply')) {
        batches.push((JSON.parse(String(values?.[0])) as unknown[]).length);
      }
      return target.query(text as string, values);
    };
    return { query } as unknown as Pool;
  }

  const base = new Date('2026-01-01T00:00:00.000Z');

  function branch(id: string, position: number, participant = 'p1'): BranchRecord {
    return {
      id,
      position,
      participant,
      dependsOn: position ? [`b${position - 1}`] : [],
      paths: { action: '/act', compensate: null },
      skippedPhases: [],
      payload: { n: position },
      status: 'pending',
      phase: 'action',
      attempt: 0,
      budgetBase: 0,
      inFlight: false,
      retryAt: null,
      result: null,
    };
  }

  function event(seq: number, type: string, extra: Partial<NewEvent> = {}): NewEvent {
    return {
      seq,
      at: new Date(base.getTime() + seq),
      type,
      branchId: null,
      phase: null,
      attempt: null,
      outcome: null,
      ...extra,
    };
  }

  /** A create op for a new 2-branch saga; `createdAt` orders it in `list`. */
  function create(
    over: { id?: string; protocol?: TransactionRecord['protocol']; createdAt?: Date; participants?: string[] } = {},
  ): CreateOp {
    const id = over.id ?? `t-${randomUUID()}`;
    const createdAt = over.createdAt ?? base;
    return {
      op: 'create',
      txn: runningTransaction(id, createdAt, { protocol: over.protocol, participants: over.participants }),
      branches: [branch('b0', 0), branch('b1', 1)],
      events: [event(1, 'transaction.created'), event(2, 'transaction.running')],
    };
  }

  /** An advance at `version` that announces b0's action (attempt 1). */
  function advance(id: string, version: number, over: Partial<AdvanceOp> = {}): AdvanceOp {
    return {
      op: 'advance',
      id,
      version,
      at: new Date(base.getTime() + 1000),
      txn: { status: 'running', decision: null, error: null, owner: 'i1', wakeAt: new Date(base.getTime() + 5000) },
      branches: [
        { id: 'b0', status: 'running', phase: 'action', attempt: 1, budgetBase: 0, inFlight: true, retryAt: null },
      ],
      events: [event(3, 'call.started', { branchId: 'b0', phase: 'action', attempt: 1 })],
      ...over,
    };
  }

  /** b0's first action answered yes, its result stored with the change. */
  function b0Succeeded(result: unknown): AdvanceOp['branches'][number] {
    const at = { id: 'b0', status: 'succeeded', phase: 'action', attempt: 1 } as const;
    return { ...at, budgetBase: 0, inFlight: false, retryAt: null, setResult: true, result };
  }

  async function rows(id: string) {
    const txn = await pool.query('SELECT * FROM txc_transactions WHERE id = $1', [id]);
    const branches = await pool.query('SELECT * FROM txc_branches WHERE transaction_id = $1 ORDER BY id', [id]);
    const events = await pool.query('SELECT * FROM txc_events WHERE transaction_id = $1 ORDER BY seq', [id]);
    return { txn: txn.rows, branches: branches.rows, events: events.rows };
  }

  describe('create', () => {
    it('ok: writes the transaction, its branches and events, as load and events read them', async () => {
      const op = create();
      expect(await store.apply(op)).toBe('ok');
      const loaded = await store.load(op.txn.id);
      expect(loaded).not.toBeNull();
      expect(loaded!.txn).toMatchObject({
        ...op.txn,
        version: 1,
        abortRequested: false,
        updatedAt: op.txn.createdAt,
      });
      expect(loaded!.branches).toEqual(op.branches);
      expect(loaded!.lastSeq).toBe(2);
      expect(await store.events(op.txn.id)).toEqual(op.events.map((e) => ({ ...e, detail: null })));
    });

    it('exists: a second create with the same id writes nothing', async () => {
      const op = create();
      expect(await store.apply(op)).toBe('ok');
      const before = await rows(op.txn.id);
      const again = create({ id: op.txn.id, protocol: 'tcc' });
      again.events = [event(1, 'other'), event(2, 'other'), event(3, 'other')];
      expect(await store.apply(again)).toBe('exists');
      expect(await rows(op.txn.id)).toEqual(before);
    });

    it('claims its Idempotency-Key with the transaction, for the instance whose request it is', async () => {
      const op = create();
      const expiresAt = new Date(Date.now() + 3_600_000);
      op.idempotency = { key: `k-${randomUUID()}`, requestHash: 'h1', expiresAt, holder: 'instance-a' };
      expect(await store.apply(op)).toBe('ok');
      expect(await store.findIdempotencyKey(op.idempotency.key)).toMatchObject({
        requestHash: 'h1',
        transactionId: op.txn.id,
        responseStatus: null,
        holder: 'instance-a',
      });
    });

    it('key-taken: the key is claimed first; nothing is written and no transaction row is left', async () => {
      const key = `k-${randomUUID()}`;
      const expiresAt = new Date(Date.now() + 3_600_000);
      expect(await store.claimIdempotencyKey(key, 'other-hash', expiresAt)).toBe(true);
      const op = create();
      op.idempotency = { key, requestHash: 'h1', expiresAt };
      expect(await store.apply(op)).toBe('key-taken');
      expect(await rows(op.txn.id)).toEqual({ txn: [], branches: [], events: [] });
      expect(await store.load(op.txn.id)).toBeNull();
      expect(await store.findIdempotencyKey(key)).toMatchObject({ requestHash: 'other-hash', transactionId: null });
    });
  });

  describe('claimMany', () => {
    it('takes every claimable row in one statement and reads each as load does; leaves the others', async () => {
      const ops = [create(), create(), create()];
      for (const op of ops) expect(await store.apply(op)).toBe('ok');
      expect(await store.apply(advance(ops[1].txn.id, 1))).toBe('ok'); // b0 in flight, 3 events
      const live = create();
      live.txn.owner = 'i2';
      expect(await store.apply(live)).toBe('ok');
      const ids = [...ops.map((o) => o.txn.id), live.txn.id, 'no-such-transaction'];
      const claimed = await store.claimMany(ids, 'me', ['i1']); // no stuck threshold: a live owner keeps its rows
      expect(claimed.map((l) => l.txn.id).sort()).toEqual(ops.map((o) => o.txn.id).sort());
      for (const l of claimed) {
        const loaded = (await store.load(l.txn.id))!;
        expect(l).toEqual({ ...loaded, txn: { ...loaded.txn, updatedAt: l.txn.updatedAt } });
        expect(l.txn.owner).toBe('me');
      }
      expect(claimed.find((l) => l.txn.id === ops[1].txn.id)!.lastSeq).toBe(3);
      expect((await store.load(live.txn.id))!.txn.owner).toBe('i2');
    });
  });

  describe('advance', () => {
    it('ok: bumps the version, writes the transaction change, the changed branches and the events', async () => {
      const op = create();
      await store.apply(op);
      const step = advance(op.txn.id, 1, {
        branches: [
          b0Succeeded({ receipt: 7 }),
          {
            id: 'b1',
            status: 'running',
            phase: 'action',
            attempt: 2,
            budgetBase: 1,
            inFlight: false,
            retryAt: new Date(base.getTime() + 2000),
          },
        ],
        events: [
          event(3, 'call.finished', {
            branchId: 'b0',
            phase: 'action',
            attempt: 1,
            outcome: 'yes',
            detail: { status: 200 },
          }),
        ],
      });
      expect(await store.apply(step)).toBe('ok');
      const loaded = (await store.load(op.txn.id))!;
      expect(loaded.txn).toMatchObject({ ...step.txn, version: 2, updatedAt: step.at });
      expect(loaded.branches[0]).toMatchObject({ status: 'succeeded', inFlight: false, result: { receipt: 7 } });
      expect(loaded.branches[1]).toMatchObject({
        status: 'running',
        attempt: 2,
        budgetBase: 1,
        retryAt: new Date(base.getTime() + 2000),
        result: null,
      });
      expect(loaded.lastSeq).toBe(3);
      expect((await store.events(op.txn.id))[2]).toMatchObject({
        type: 'call.finished',
        outcome: 'yes',
        detail: { status: 200 },
      });
    });

    it('keeps a stored result when a later change does not set one', async () => {
      const op = create();
      await store.apply(op);
      const b0 = {
        id: 'b0',
        status: 'succeeded' as const,
        phase: 'action' as const,
        attempt: 1,
        budgetBase: 0,
        inFlight: false,
        retryAt: null,
      };
      await store.apply(advance(op.txn.id, 1, { branches: [{ ...b0, setResult: true, result: 'r' }], events: [] }));
      await store.apply(
        advance(op.txn.id, 2, { branches: [{ ...b0, status: 'completing', result: 'ignored' }], events: [] }),
      );
      expect((await store.load(op.txn.id))!.branches[0]).toMatchObject({ status: 'completing', result: 'r' });
    });

    it('stale: a version that moved on writes nothing (transaction, branches and events unchanged)', async () => {
      const op = create();
      await store.apply(op);
      expect(await store.apply(advance(op.txn.id, 1))).toBe('ok');
      const before = await rows(op.txn.id);
      const late = advance(op.txn.id, 1, {
        txn: { status: 'aborting', decision: 'abort', error: 'x', owner: 'i2', wakeAt: null },
        branches: [
          {
            id: 'b1',
            status: 'completing',
            phase: 'compensate',
            attempt: 1,
            budgetBase: 0,
            inFlight: true,
            retryAt: null,
          },
        ],
        events: [event(4, 'transaction.aborting')],
      });
      expect(await store.apply(late)).toBe('stale');
      expect(await store.apply({ ...late, version: 7 })).toBe('stale');
      expect(await rows(op.txn.id)).toEqual(before);
    });

    it('stale: an advance of a transaction that does not exist writes nothing', async () => {
      const id = `t-${randomUUID()}`;
      expect(await store.apply(advance(id, 1))).toBe('stale');
      expect(await rows(id)).toEqual({ txn: [], branches: [], events: [] });
    });

    it('abort-requested: written, and reports the abort asked for elsewhere until a step records it', async () => {
      const op = create();
      await store.apply(op);
      expect(await store.requestAbort(op.txn.id)).toBe('flagged');
      expect(await store.requestAbort(op.txn.id, { second: true })).toBe('already');
      expect((await store.load(op.txn.id))!.txn.abortRequested).toBe(true);
      expect(await store.apply(advance(op.txn.id, 1))).toBe('abort-requested');
      const written = (await store.load(op.txn.id))!;
      expect(written.txn.version).toBe(2);
      expect(written.branches[0]).toMatchObject({ status: 'running', inFlight: true });
      expect(written.lastSeq).toBe(3);
      expect(await store.abortNote(op.txn.id)).toBeNull(); // the first request's note, not the second's
      // the step that records the operator's abort clears it
      const recorded = advance(op.txn.id, 2, {
        txn: { status: 'aborting', decision: 'abort', error: 'a branch said no', owner: 'i1', wakeAt: null },
        branches: [],
        events: [event(5, 'operator.abort', { detail: { actor: 'ops', reason: 'r' } })],
      });
      expect(await store.apply(recorded)).toBe('ok');
      expect((await store.load(op.txn.id))!.txn.abortRequested).toBe(false);
      expect(await store.requestAbort(op.txn.id)).toBe('decided');
    });

    it.each([
      ['commit', { status: 'committed', decision: 'commit', error: null }, 'transaction.committed'],
      [
        'abort for another reason',
        { status: 'aborted', decision: 'abort', error: 'b0 said no' },
        'transaction.aborted',
      ],
    ])(
      'abort-first: a step deciding %s after an abort was flagged writes nothing, alone or in a batch',
      async (_what, decided, type) => {
        const deciding = (id: string) =>
          advance(id, 1, {
            txn: { ...decided, owner: null, wakeAt: null } as AdvanceOp['txn'],
            branches: [b0Succeeded({ ok: true })],
            events: [event(3, type)],
          });
        for (const batched of [false, true]) {
          const op = create();
          await store.apply(op);
          expect(await store.requestAbort(op.txn.id)).toBe('flagged');
          const before = await rows(op.txn.id);
          // a batch with the same transaction twice goes op by op; alone, set-based
          const results = batched
            ? await Promise.all([store.apply(deciding(op.txn.id)), store.apply(advance(op.txn.id, 9))])
            : [await store.apply(deciding(op.txn.id))];
          expect(results[0]).toBe('abort-first');
          expect(await rows(op.txn.id)).toEqual(before);
        }
      },
    );

    it('a step that records the flagged abort decides it, even without a note to name who asked', async () => {
      for (const batched of [false, true]) {
        const op = create();
        await store.apply(op);
        expect(await store.requestAbort(op.txn.id)).toBe('flagged');
        const aborting = advance(op.txn.id, 1, {
          txn: { status: 'aborting', decision: 'abort', error: 'abort requested', owner: 'i1', wakeAt: null },
          branches: [],
          events: [event(3, 'transaction.abort-requested', { detail: { reason: 'abort requested' } })],
        });
        const results = batched
          ? await Promise.all([store.apply(aborting), store.apply(advance(op.txn.id, 9))])
          : [await store.apply(aborting)];
        expect(results[0]).toBe('ok');
        expect((await store.load(op.txn.id))!.txn).toMatchObject({ decision: 'abort', abortRequested: false });
      }
    });

    it('new_branches: inserts registered branches and adds their participants once', async () => {
      const op = create({ participants: ['p1'] });
      op.txn.mode = 'interactive';
      op.branches = [];
      op.txn.protocol = 'tcc';
      await store.apply(op);
      const register = (version: number, b: BranchRecord, seq: number) =>
        advance(op.txn.id, version, {
          newBranches: [{ ...b, status: 'running', phase: 'try', attempt: 1, inFlight: true }],
          branches: [],
          events: [event(seq, 'branch.registered', { branchId: b.id })],
        });
      expect(await store.apply(register(1, branch('a', 0, 'p2'), 3))).toBe('ok');
      expect(await store.apply(register(2, branch('b', 1, 'p2'), 4))).toBe('ok');
      expect(await store.apply(register(3, branch('c', 2, 'p3'), 5))).toBe('ok');
      const loaded = (await store.load(op.txn.id))!;
      expect(loaded.branches.map((b) => [b.id, b.participant, b.phase, b.inFlight])).toEqual([
        ['a', 'p2', 'try', true],
        ['b', 'p2', 'try', true],
        ['c', 'p3', 'try', true],
      ]);
      expect([...loaded.txn.participants].sort()).toEqual(['p1', 'p2', 'p3']);
      expect(loaded.txn.version).toBe(4);
      expect((await store.list({ participant: 'p3', limit: 10 })).map((t) => t.id)).toContain(op.txn.id);
    });

    it('new_branches with a branch change in the same step: the change applies to the new row', async () => {
      const op = create();
      op.branches = [];
      await store.apply(op);
      const step = advance(op.txn.id, 1, {
        newBranches: [branch('n', 0)],
        branches: [
          { id: 'n', status: 'running', phase: 'action', attempt: 1, budgetBase: 0, inFlight: true, retryAt: null },
        ],
        events: [],
      });
      expect(await store.apply(step)).toBe('ok');
      expect((await store.load(op.txn.id))!.branches).toEqual([
        expect.objectContaining({ id: 'n', status: 'running', attempt: 1, inFlight: true }),
      ]);
    });
  });

  describe('respond', () => {
    it('ok: stores the first response of a key; a later one does not overwrite it', async () => {
      const key = `k-${randomUUID()}`;
      await store.claimIdempotencyKey(key, 'h', new Date(Date.now() + 3_600_000));
      const first: StoreOp = {
        op: 'respond',
        key,
        status: 201,
        body: { id: 'x', n: [1] },
        headers: { location: '/x' },
      };
      expect(await store.apply(first)).toBe('ok');
      expect(await store.apply({ ...first, status: 500, body: { other: true } })).toBe('ok');
      expect(await store.findIdempotencyKey(key)).toMatchObject({
        responseStatus: 201,
        responseBody: { id: 'x', n: [1] },
        responseHeaders: { location: '/x' },
      });
    });
  });

  describe('advance carrying respond', () => {
    /** A claimed key and a created transaction whose step at version 1 may carry the key's response. */
    async function keyedTransaction() {
      const key = `k-${randomUUID()}`;
      await store.claimIdempotencyKey(key, 'h', new Date(Date.now() + 3_600_000));
      const op = create();
      await store.apply(op);
      const response = { key, status: 200, body: { id: op.txn.id, status: 'committed' }, headers: { location: '/x' } };
      return { key, id: op.txn.id, response };
    }

    it('stores the response with a step that applies, in a batch of other transactions (set-based)', async () => {
      const single = new PgTransactionStore(countingBatches(pool), { maxBatch: 256, maxConcurrentFlushes: 1 });
      const { key, id, response } = await keyedTransaction();
      const other = create();
      await store.apply(other);
      batches.length = 0;
      const first = single.apply(create()); // occupies the only flush: the two advances go out together
      const both = Promise.all([
        single.apply(advance(id, 1, { respond: response })),
        single.apply(advance(other.txn.id, 1)),
      ]);
      await first;
      expect(await both).toEqual(['ok', 'ok']);
      expect(batches).toEqual([1, 2]);
      expect(await store.findIdempotencyKey(key)).toMatchObject({
        responseStatus: 200,
        responseBody: response.body,
        responseHeaders: { location: '/x' },
      });
    });

    it('stores the response with a step applied op by op (its transaction twice in the batch)', async () => {
      const single = new PgTransactionStore(countingBatches(pool), { maxBatch: 256, maxConcurrentFlushes: 1 });
      const { key, id, response } = await keyedTransaction();
      const blocker = create();
      const first = single.apply(blocker);
      const rest = Promise.all([
        single.apply(advance(id, 1)),
        single.apply(advance(id, 2, { events: [event(4, 'call.finished')], respond: response })),
      ]);
      await first;
      expect(await rest).toEqual(['ok', 'ok']);
      expect((await store.findIdempotencyKey(key))!.responseStatus).toBe(200);
    });

    it('stores nothing with a stale step, and never overwrites a stored response', async () => {
      const { key, id, response } = await keyedTransaction();
      expect(await store.apply(advance(id, 7, { respond: response }))).toBe('stale');
      expect((await store.findIdempotencyKey(key))!.responseStatus).toBeNull();
      await store.apply({ op: 'respond', ...response, status: 202 });
      expect(await store.apply(advance(id, 1, { respond: response }))).toBe('ok');
      expect((await store.findIdempotencyKey(key))!.responseStatus).toBe(202);
    });
  });

  describe('a batch', () => {
    it('is written with one statement; one malformed op fails alone, retried op by op, and the others commit', async () => {
      const single = new PgTransactionStore(countingBatches(pool), { maxBatch: 256, maxConcurrentFlushes: 1 });
      const good = [create(), create()];
      const blocker = create();
      const key = `k-${randomUUID()}`;
      await single.claimIdempotencyKey(key, 'h', new Date(Date.now() + 3_600_000));
      batches.length = 0;
      // the first op occupies the only flush; the next four queue and go out together
      const first = single.apply(blocker);
      const results = Promise.allSettled([
        single.apply(good[0]),
        // status is NOT NULL: Postgres refuses the whole statement
        single.apply(advance(blocker.txn.id, 1, { txn: { ...advance('', 1).txn, status: null as never } })),
        single.apply(good[1]),
        single.apply({ op: 'respond', key, status: 200, body: { ok: true }, headers: {} }),
      ]);
      expect(await first).toBe('ok');
      const [a, bad, b, respond] = await results;
      expect(a).toEqual({ status: 'fulfilled', value: 'ok' });
      expect(bad.status).toBe('rejected');
      expect(b).toEqual({ status: 'fulfilled', value: 'ok' });
      expect(respond).toEqual({ status: 'fulfilled', value: 'ok' });
      // the refused batch of four, then each op alone
      expect(batches).toEqual([1, 4, 1, 1, 1, 1]);
      for (const op of good) expect((await store.load(op.txn.id))!.txn.version).toBe(1);
      expect((await store.load(blocker.txn.id))!.txn).toMatchObject({ version: 1, status: 'running' });
      expect((await store.findIdempotencyKey(key))!.responseStatus).toBe(200);
    });

    it('applies ops of one transaction in order within a batch', async () => {
      const single = new PgTransactionStore(countingBatches(pool), { maxBatch: 256, maxConcurrentFlushes: 1 });
      const blocker = create();
      const op = create();
      batches.length = 0;
      const first = single.apply(blocker);
      const rest = Promise.all([
        single.apply(op),
        single.apply(advance(op.txn.id, 1)),
        single.apply(advance(op.txn.id, 1)),
      ]);
      await first;
      expect(await rest).toEqual(['ok', 'ok', 'stale']);
      expect(batches).toEqual([1, 3]);
      expect((await store.load(op.txn.id))!.txn.version).toBe(2);
    });
    it('a batch of many transactions: each op gets its own result, in order, and writes what it would alone', async () => {
      const single = new PgTransactionStore(countingBatches(pool), { maxBatch: 256, maxConcurrentFlushes: 1 });
      const [advanced, stale, taken] = [create(), create(), create()];
      for (const op of [advanced, stale, taken]) await store.apply(op);
      const key = `k-${randomUUID()}`;
      await single.claimIdempotencyKey(key, 'h', new Date(Date.now() + 3_600_000));
      const fresh = create();
      const keyed = {
        ...create(),
        idempotency: { key: `k-${randomUUID()}`, requestHash: 'h1', expiresAt: new Date(Date.now() + 60_000) },
      };
      const keyTaken = {
        ...create(),
        idempotency: { key, requestHash: 'h1', expiresAt: new Date(Date.now() + 60_000) },
      };
      const blocker = create();
      batches.length = 0;
      const first = single.apply(blocker);
      const results = Promise.all([
        single.apply(fresh),
        single.apply(advance(advanced.txn.id, 1)),
        single.apply(keyed),
        single.apply(advance(stale.txn.id, 4)),
        single.apply({ ...taken, events: [] }),
        single.apply(keyTaken),
        single.apply({ op: 'respond', key, status: 201, body: { id: 'x' }, headers: {} }),
      ]);
      await first;
      expect(await results).toEqual(['ok', 'ok', 'ok', 'stale', 'exists', 'key-taken', 'ok']);
      expect(batches).toEqual([1, 7]);
      expect((await store.load(fresh.txn.id))!.branches).toHaveLength(2);
      expect(await store.events(fresh.txn.id)).toHaveLength(2);
      expect((await store.load(advanced.txn.id))!.txn.version).toBe(2);
      expect((await store.findIdempotencyKey(keyed.idempotency.key))!.transactionId).toBe(keyed.txn.id);
      expect((await store.load(stale.txn.id))!.txn.version).toBe(1);
      expect(await store.events(taken.txn.id)).toHaveLength(2);
      expect(await store.load(keyTaken.txn.id)).toBeNull();
      expect((await store.findIdempotencyKey(key))!.responseStatus).toBe(201);
    });

    it('writes the same rows whether an op shares its batch with another of its transaction or not', async () => {
      const single = new PgTransactionStore(countingBatches(pool), { maxBatch: 256, maxConcurrentFlushes: 1 });
      const apart = create();
      const together = create();
      const step = (id: string) =>
        advance(id, 1, {
          branches: [
            b0Succeeded({ n: 1 }),
            { id: 'b1', status: 'running', phase: 'action', attempt: 1, budgetBase: 0, inFlight: true, retryAt: null },
          ],
        });
      // apart: each op in a batch of its own; together: the create and its advance in one batch
      await single.apply(apart);
      await single.apply(step(apart.txn.id));
      const blocker = create();
      const first = single.apply(blocker);
      const both = Promise.all([single.apply(together), single.apply(step(together.txn.id))]);
      await first;
      expect(await both).toEqual(['ok', 'ok']);
      const strip = (r: Awaited<ReturnType<typeof rows>>) =>
        JSON.parse(JSON.stringify(r).split(apart.txn.id).join('ID').split(together.txn.id).join('ID'));
      expect(strip(await rows(together.txn.id))).toEqual(strip(await rows(apart.txn.id)));
    });
  });

  describe('reads', () => {
    it('load and events: null and [] for an unknown id', async () => {
      expect(await store.load('no-such-transaction')).toBeNull();
      expect(await store.events('no-such-transaction')).toEqual([]);
    });

    it('list: filters by status, protocol, participant and id prefix; newest first; keyset pages', async () => {
      const tag = `L${randomUUID().slice(0, 8)}`;
      const at = (minute: number) => new Date(Date.UTC(2030, 0, 1, 0, minute));
      // two share a created_at: the id breaks the tie
      const specs: { id: string; protocol: TransactionRecord['protocol']; minute: number; participants: string[] }[] = [
        { id: `${tag}-a`, protocol: 'saga', minute: 1, participants: [`${tag}-p1`] },
        { id: `${tag}-b`, protocol: 'tcc', minute: 2, participants: [`${tag}-p1`, `${tag}-p2`] },
        { id: `${tag}-c`, protocol: 'saga', minute: 3, participants: [`${tag}-p2`] },
        { id: `${tag}-d`, protocol: '2pc', minute: 3, participants: [`${tag}-p1`] },
        { id: `${tag}-e`, protocol: 'saga', minute: 4, participants: [`${tag}-p1`] },
      ];
      for (const s of specs) {
        expect(
          await store.apply(
            create({ id: s.id, protocol: s.protocol, createdAt: at(s.minute), participants: s.participants }),
          ),
        ).toBe('ok');
      }
      // c and e end committed
      for (const id of [`${tag}-c`, `${tag}-e`]) {
        const step = advance(id, 1, {
          txn: { status: 'committed', decision: 'commit', error: null, owner: null, wakeAt: null },
          branches: [],
          events: [],
        });
        expect(await store.apply(step)).toBe('ok');
      }
      const ids = async (filter: Partial<Parameters<PgTransactionStore['list']>[0]>) =>
        (await store.list({ q: tag, limit: 100, ...filter })).map((t) => t.id.slice(tag.length + 1));

      expect(await ids({})).toEqual(['e', 'd', 'c', 'b', 'a']);
      expect(await ids({ statuses: ['committed'] })).toEqual(['e', 'c']);
      expect(await ids({ statuses: ['committed', 'running'] })).toEqual(['e', 'd', 'c', 'b', 'a']);
      expect(await ids({ protocol: 'saga' })).toEqual(['e', 'c', 'a']);
      expect(await ids({ participant: `${tag}-p2` })).toEqual(['c', 'b']);
      expect(await ids({ protocol: 'saga', statuses: ['running'] })).toEqual(['a']);
      expect(await ids({ q: `${tag}-d` })).toEqual(['d']);
      // LIKE wildcards in the prefix are literal
      expect(await ids({ q: `${tag}%` })).toEqual([]);
      expect(await ids({ q: `${tag}-_` })).toEqual([]);

      // keyset pagination: each page continues after the last row of the one before, none skipped or repeated
      const pages: string[][] = [];
      let after: { createdAt: Date; id: string } | undefined;
      for (;;) {
        const page = await store.list({ q: tag, limit: 2, after });
        if (!page.length) break;
        pages.push(page.map((t) => t.id.slice(tag.length + 1)));
        const last = page[page.length - 1];
        after = { createdAt: last.createdAt, id: last.id };
      }
      expect(pages).toEqual([['e', 'd'], ['c', 'b'], ['a']]);
    });
  });
});
