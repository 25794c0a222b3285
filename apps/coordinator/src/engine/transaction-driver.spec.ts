import { BranchStatus, Mode, Outcome, Phase, Protocol, TransactionStatus } from '#contracts';
import type { AdvanceOp, BranchRecord, LoadedTransaction, StoreResult, TransactionStore } from '#store';
import type { EngineContext } from './engine-context';
import type { ParticipantGateway } from './participant-gateway';
import { toMachineState } from './state-mapping';
import { SettleWaiters, type SettleResponder } from './settle-waiters';
import { TransactionActions } from './transaction-actions';
import type { TransactionClaims } from './transaction-claims';
import { TransactionDriver } from './transaction-driver';

// The driver's ordering of its own queue, with the log and the participants scripted: which
// event is applied before which cannot be arranged deterministically over real sockets.

const quiet = { inc: () => undefined, observe: () => undefined };

function branch(id: string, position: number, fields: Partial<BranchRecord> = {}): BranchRecord {
  return {
    id,
    position,
    participant: 'p1',
    dependsOn: position === 0 ? [] : ['a'],
    paths: {},
    skippedPhases: [],
    payload: {},
    status: BranchStatus.Pending,
    phase: Phase.Action,
    attempt: 0,
    budgetBase: 0,
    inFlight: false,
    retryAt: null,
    result: null,
    ...fields,
  };
}

/** The first step's yes, in a saga whose first step is in flight. */
const aSaysYes = {
  type: 'outcome',
  branchId: 'a',
  phase: Phase.Action,
  attempt: 1,
  outcome: Outcome.Yes,
  random01: 0,
} as const;

/** A running two-step saga whose first step is in flight. */
function sagaWithFirstStepInFlight(): LoadedTransaction {
  const at = new Date();
  return {
    txn: {
      id: 't1',
      protocol: Protocol.Saga,
      mode: Mode.Driven,
      status: TransactionStatus.Running,
      decision: null,
      timeoutMs: 60_000,
      deadline: new Date(at.getTime() + 60_000),
      retry: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 1_000 },
      requestHash: '',
      participants: ['p1'],
      error: null,
      owner: 'me',
      version: 1,
      wakeAt: null,
      abortRequested: false,
      createdAt: at,
      updatedAt: at,
    },
    branches: [branch('a', 0, { status: BranchStatus.Running, attempt: 1, inFlight: true }), branch('b', 1)],
    lastSeq: 3,
  };
}

/** A running TCC transaction whose two tries are both in flight. */
function tccWithBothTriesInFlight(): LoadedTransaction {
  const saga = sagaWithFirstStepInFlight();
  const trying = { status: BranchStatus.Running, phase: Phase.Try, attempt: 1, inFlight: true, dependsOn: [] };
  return {
    ...saga,
    txn: { ...saga.txn, protocol: Protocol.Tcc },
    branches: [branch('a', 0, trying), branch('b', 1, trying)],
  };
}

/** An interactive TCC transaction with one branch tried (yes) and nothing in flight: idle. */
function interactiveTccIdle(): LoadedTransaction {
  const saga = sagaWithFirstStepInFlight();
  const tried = { status: BranchStatus.Succeeded, phase: Phase.Try, attempt: 1, dependsOn: [] };
  return {
    ...saga,
    txn: { ...saga.txn, protocol: Protocol.Tcc, mode: Mode.Interactive },
    branches: [branch('a', 0, tried)],
  };
}

function scripted(opts: {
  abortNote?: Promise<Record<string, unknown> | null>;
  firstWrite?: StoreResult;
  /** What the log answers to each write in turn (after `firstWrite`), `ok` past the end. */
  writes?: (StoreResult | Promise<StoreResult>)[];
  /** The log's first write is cut (its op built) only once this resolves, as behind a flush in flight. */
  firstCut?: Promise<void>;
}) {
  const written: AdvanceOp[] = [];
  const delivered: string[] = [];
  const apply = async (op: AdvanceOp) => {
    written.push(op);
    if (written.length === 1 && opts.firstWrite) return opts.firstWrite;
    return opts.writes?.[written.length - 1] ?? 'ok';
  };
  const store = {
    apply,
    applyBuiltAtCut: async (build: () => AdvanceOp) => {
      if (written.length === 0 && opts.firstCut) await opts.firstCut;
      return apply(build());
    },
    abortNote: () => opts.abortNote,
  } as unknown as TransactionStore;
  const gateway = {
    deliver: async (
      _name: string,
      build: (p: unknown, i: unknown) => { body: { phase: string; branchId: string } },
    ) => {
      const req = build({ name: 'p1', secret: null }, { transport: 'http', url: 'http://p1' });
      delivered.push(`${req.body.branchId}:${req.body.phase}`);
      return {
        kind: 'called',
        instanceId: 'i1',
        result: { outcome: Outcome.Yes, httpStatus: 200, result: {}, error: null, durationMs: 1 },
      };
    },
  } as unknown as ParticipantGateway;
  let detached: { settled: boolean } | null = null;
  const waiters = new SettleWaiters();
  const ctx: EngineContext = {
    instanceId: 'me',
    store,
    gateway,
    callTimeoutMs: 1_000,
    crash: { reach: () => undefined } as unknown as EngineContext['crash'],
    metrics: { calls: quiet, instanceCalls: quiet, callSeconds: quiet, deferred: quiet } as never,
    stats: { record: () => undefined } as never,
    logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
    respondOnSettle: (id, snapshot) => waiters.respondOnSettle(id, snapshot),
    responseWritten: (id, response, stored) => waiters.responseWritten(id, response, stored),
    detach: (d, how) => {
      detached = how;
      waiters.notify(d.id, () => (how.settled ? d.snapshot() : null));
    },
  };
  return { ctx, written, delivered, waiters, detached: () => detached };
}

/**
 * The actions asked of transaction t1 as the engine applies them, over drivers each started from
 * `load()`: a driver that lets go leaves the map, and a claim starts a new one. `first` is the one
 * this instance holds at the start.
 */
function actionsOver(run: ReturnType<typeof scripted>, load: () => LoadedTransaction) {
  const drivers = new Map<string, TransactionDriver>();
  const ctx: EngineContext = {
    ...run.ctx,
    detach: (d, how) => {
      run.ctx.detach(d, how);
      if (drivers.get(d.id) === d) drivers.delete(d.id);
    },
  };
  const drive = () => {
    const loaded = load();
    const driver = new TransactionDriver(ctx, loaded, toMachineState(loaded.txn, loaded.branches), null);
    drivers.set(loaded.txn.id, driver);
    return driver;
  };
  const actions = new TransactionActions({
    store: { load: async () => load() } as unknown as TransactionStore,
    drives: true,
    fenced: () => false,
    drivers,
    claims: { underWay: () => undefined, takeOver: async () => drive() } as unknown as TransactionClaims,
    resume: async () => true,
  });
  return { actions, first: drive() };
}

describe('TransactionDriver', () => {
  it('applies an abort flagged through another instance before the calls its write announced, which never go out', async () => {
    let giveNote!: (note: Record<string, unknown>) => void;
    const abortNote = new Promise<Record<string, unknown> | null>((resolve) => (giveNote = resolve));
    // the write of a's yes reports the flag, and announces b's action; the owner's read of who
    // asked for the abort is still out
    const run = scripted({ abortNote, firstWrite: 'abort-requested' });
    const loaded = sagaWithFirstStepInFlight();
    const driver = new TransactionDriver(run.ctx, loaded, toMachineState(loaded.txn, loaded.branches), null);

    void driver.post(aSaysYes);
    while (run.written.length === 0) await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    giveNote({ operator: { action: 'abort', actor: 'ops-alice', reason: 'customer cancelled' } });
    while (run.detached() === null) await new Promise((r) => setImmediate(r));

    const statuses = run.written.map((op) => op.txn.status);
    expect(statuses).not.toContain(TransactionStatus.Committed);
    expect(run.written.map((op) => op.txn.decision)).toContain('abort');
    const abortStep = run.written.find((op) => op.events.some((e) => e.type === 'operator.abort'))!;
    expect(abortStep.events.find((e) => e.type === 'operator.abort')!.detail).toEqual({
      actor: 'ops-alice',
      reason: 'customer cancelled',
    });
    // b's action was announced before the abort was taken, and never sent after it: withdrawn as a
    // deferred call is (its attempt not counted), so b cannot have landed and is skipped, not undone
    const notSent = run.written
      .flatMap((op) => op.events)
      .filter((e) => e.branchId === 'b' && e.type.startsWith('call.'));
    expect(notSent).toMatchObject([
      { type: 'call.started', phase: Phase.Action },
      { type: 'call.deferred', phase: Phase.Action, detail: { reason: 'abort-requested' } },
    ]);
    const bRows = run.written.flatMap((op) => op.branches.filter((b) => b.id === 'b'));
    expect(bRows.at(-1)).toMatchObject({ status: BranchStatus.Skipped });
    expect(run.delivered).toEqual(['a:compensate']);
    expect(run.detached()).toEqual({ settled: true, wakeAt: null });
  });

  it('writes parallel answers that arrive while a write waits for the log in that one write', async () => {
    let cut!: () => void;
    const run = scripted({ firstCut: new Promise((resolve) => (cut = resolve)) });
    const loaded = tccWithBothTriesInFlight();
    const driver = new TransactionDriver(run.ctx, loaded, toMachineState(loaded.txn, loaded.branches), null);
    const answer = (branchId: string) =>
      driver.post({ type: 'outcome', branchId, phase: Phase.Try, attempt: 1, outcome: Outcome.Yes, random01: 0 });

    const a = answer('a'); // its write waits: a flush is in flight
    await new Promise((r) => setImmediate(r));
    const b = answer('b');
    cut();
    await Promise.all([a, b]);

    const first = run.written[0];
    expect(first.events.filter((e) => e.type === 'call.finished').map((e) => e.branchId)).toEqual(['a', 'b']);
    expect(first.events.map((e) => e.seq)).toEqual(first.events.map((_, i) => loaded.lastSeq + i + 1));
    expect(first.txn.decision).toBe('commit');
    expect(first.branches.map((c) => [c.id, c.status, c.setResult])).toEqual([
      ['a', BranchStatus.Completing, true],
      ['b', BranchStatus.Completing, true],
    ]);
    // the confirms go out once the write that decided them is durable
    while (run.detached() === null) await new Promise((r) => setImmediate(r));
    expect(run.delivered.slice(0, 2).sort()).toEqual(['a:confirm', 'b:confirm']);
    expect(run.written.at(-1)!.txn.status).toBe(TransactionStatus.Committed);
    expect(run.detached()).toEqual({ settled: true, wakeAt: null });
  });

  it('gives an answer that would change the status a second time a write of its own, so the stream hears both', async () => {
    let cut!: () => void;
    const run = scripted({ firstCut: new Promise((resolve) => (cut = resolve)) });
    const saga = sagaWithFirstStepInFlight();
    // a saga whose two steps run in parallel, both in flight
    const acting = { status: BranchStatus.Running, attempt: 1, inFlight: true, dependsOn: [] };
    const loaded = { ...saga, branches: [branch('a', 0, acting), branch('b', 1, acting)] };
    const driver = new TransactionDriver(run.ctx, loaded, toMachineState(loaded.txn, loaded.branches), null);
    const no = (branchId: string) =>
      driver.post({ type: 'outcome', branchId, phase: Phase.Action, attempt: 1, outcome: Outcome.No, random01: 0 });

    const a = no('a'); // running -> aborting; its write waits
    await new Promise((r) => setImmediate(r));
    const b = no('b'); // aborting -> aborted: a second status change
    cut();
    await Promise.all([a, b]);

    expect(run.written.map((op) => [op.txn.status, op.announce !== undefined])).toEqual([
      [TransactionStatus.Aborting, true],
      [TransactionStatus.Aborted, true],
    ]);
  });

  it('keeps no result from a late answer the machine ignored while riding along', async () => {
    let cut!: () => void;
    const run = scripted({ firstCut: new Promise((resolve) => (cut = resolve)) });
    const tcc = tccWithBothTriesInFlight();
    const loaded = { ...tcc, txn: { ...tcc.txn, deadline: new Date(Date.now() - 1_000) } };
    const driver = new TransactionDriver(run.ctx, loaded, toMachineState(loaded.txn, loaded.branches), null);

    const wake = driver.post({ type: 'wake' }); // past the deadline: abort, cancels announced
    await new Promise((r) => setImmediate(r));
    const late = driver.post(
      { type: 'outcome', branchId: 'a', phase: Phase.Try, attempt: 1, outcome: Outcome.Yes, random01: 0 },
      null,
      { late: true },
    );
    cut();
    await Promise.all([wake, late]);

    const first = run.written[0];
    expect(first.txn.decision).toBe('abort');
    expect(first.branches.find((c) => c.id === 'a')).not.toHaveProperty('setResult', true);
  });

  describe('a keyed start waiting for the transaction to settle', () => {
    /** Answers with what it was built from, so the test can compare it with the snapshot. */
    const responder: SettleResponder = {
      key: 'k1',
      reply: (s) => ({
        status: 200,
        body: {
          status: s.loaded.txn.status,
          version: s.loaded.txn.version,
          lastSeq: s.loaded.lastSeq,
          events: s.events.length,
        },
        headers: { location: `/v1/transactions/${s.loaded.txn.id}` },
      }),
    };

    it('has its answer stored by the settling write, built from the transaction as that write leaves it', async () => {
      const run = scripted({});
      const loaded = sagaWithFirstStepInFlight();
      const history = [
        {
          seq: 1,
          at: new Date(),
          type: 'transaction.created',
          branchId: null,
          phase: null,
          attempt: null,
          outcome: null,
          detail: null,
        },
      ];
      const driver = new TransactionDriver(run.ctx, loaded, toMachineState(loaded.txn, loaded.branches), history);
      const waited = run.waiters.wait('t1', 10_000, responder);

      void driver.post(aSaysYes); // a's yes announces b's call, whose yes settles the saga
      const outcome = await waited;

      expect(run.written.map((op) => op.txn.status)).toEqual([TransactionStatus.Running, TransactionStatus.Committed]);
      expect(run.written[0].respond).toBeUndefined();
      const settling = run.written[1];
      expect(settling.respond).toEqual({
        key: 'k1',
        status: 200,
        body: {
          status: TransactionStatus.Committed,
          version: 3,
          lastSeq: outcome.snapshot!.loaded.lastSeq,
          events: 1 + run.written[0].events.length + settling.events.length,
        },
        headers: { location: '/v1/transactions/t1' },
      });
      // the waiter is told the key has it, with the snapshot it was built from
      expect(outcome.stored).toBe(settling.respond);
      expect(outcome.snapshot!.loaded.txn).toMatchObject({ status: TransactionStatus.Committed, version: 3 });
      expect(outcome.snapshot!.events).toHaveLength((settling.respond!.body as { events: number }).events);
    });

    it('is told nothing was stored when the settling write finds another owner', async () => {
      const run = scripted({ writes: ['ok', 'stale'] });
      const loaded = sagaWithFirstStepInFlight();
      const driver = new TransactionDriver(run.ctx, loaded, toMachineState(loaded.txn, loaded.branches), []);
      const waited = run.waiters.wait('t1', 10_000, responder);

      void driver.post(aSaysYes);

      expect(await waited).toEqual({ snapshot: null, stored: null, answerInFlight: false });
      expect(run.written[1].respond).toMatchObject({ key: 'k1' }); // carried, but the write did not apply
      expect(run.detached()).toEqual({ settled: false, wakeAt: null });
    });

    it('is told its answer is in flight when the instance lets go while the write carrying it is out', async () => {
      let land!: (result: StoreResult) => void;
      const run = scripted({ writes: ['ok', new Promise<StoreResult>((resolve) => (land = resolve))] });
      const loaded = sagaWithFirstStepInFlight();
      const driver = new TransactionDriver(run.ctx, loaded, toMachineState(loaded.txn, loaded.branches), []);
      const waited = run.waiters.wait('t1', 10_000, responder);

      void driver.post(aSaysYes);
      while (run.written.length < 2) await new Promise((r) => setImmediate(r));
      expect(run.written[1].respond).toMatchObject({ key: 'k1' });
      // as the engine fences itself: the driver stops and lets go while its write is out
      driver.stop();
      run.ctx.detach(driver, { settled: false, wakeAt: null });
      // the key's answer is whatever the log ends up holding: the request reads it there
      expect(await waited).toEqual({ snapshot: null, stored: null, answerInFlight: true });
      land('ok');
    });

    it('gets no stored answer from a driver that does not hold the whole timeline', async () => {
      const run = scripted({});
      const loaded = sagaWithFirstStepInFlight();
      const driver = new TransactionDriver(run.ctx, loaded, toMachineState(loaded.txn, loaded.branches), null);
      const waited = run.waiters.wait('t1', 10_000, responder);

      void driver.post(aSaysYes);

      expect(await waited).toEqual({ snapshot: null, stored: null, answerInFlight: false });
      expect(run.written.map((op) => op.respond)).toEqual([undefined, undefined]);
    });
  });

  it("applies an operator's retry-now through the driver that takes over when the one it found lets go first", async () => {
    const run = scripted({});
    // a saga whose first step failed once and waits out a long backoff
    const { actions, first } = actionsOver(run, () => {
      const saga = sagaWithFirstStepInFlight();
      const waiting = { status: BranchStatus.Running, attempt: 1, retryAt: new Date(Date.now() + 60_000) };
      return { ...saga, branches: [branch('a', 0, waiting), branch('b', 1)] };
    });

    void first.letGoIfIdle(); // queued ahead of the retry: the driver found is gone by its turn
    expect(await actions.retryNow('t1', { action: 'retry', actor: 'ops-alice', reason: null })).toBe('retried');
    expect(run.delivered[0]).toBe('a:action');
  });

  it("does not answer an operator's retry-now as done when its write found another owner", async () => {
    // every write is fenced: another instance took the transaction over each time
    const run = scripted({ firstWrite: 'stale', writes: ['stale', 'stale', 'stale'] });
    const { actions } = actionsOver(run, () => {
      const saga = sagaWithFirstStepInFlight();
      const waiting = { status: BranchStatus.Running, attempt: 1, retryAt: new Date(Date.now() + 60_000) };
      return { ...saga, branches: [branch('a', 0, waiting), branch('b', 1)] };
    });

    expect(await actions.retryNow('t1', { action: 'retry', actor: 'ops-alice', reason: null })).toBe('busy');
    expect(run.written).toHaveLength(3); // tried on a fresh claim each time, then told busy
    expect(run.delivered).toEqual([]);
  });

  it("applies a message's submit through the driver that takes over when the one it found lets go first", async () => {
    const run = scripted({});
    // a prepared message; the log holds the decision of the last write
    const prepared = (): LoadedTransaction => {
      const saga = sagaWithFirstStepInFlight();
      const txn = { ...saga.txn, protocol: Protocol.Msg, mode: Mode.Prepared, status: TransactionStatus.Prepared };
      return {
        ...saga,
        txn: { ...txn, decision: run.written.at(-1)?.txn.decision ?? null },
        branches: [branch('a', 0)],
      };
    };
    const { actions, first } = actionsOver(run, prepared);

    void first.letGoIfIdle(); // queued ahead of the submit: the driver found is gone by its turn
    expect(await actions.submit('t1')).toBe('submitted');
    expect(run.delivered[0]).toBe('a:action');
  });

  it('withdraws on a clean stop the calls in flight, those announced meanwhile too, and makes none', async () => {
    const run = scripted({});
    const loaded = sagaWithFirstStepInFlight();
    const driver = new TransactionDriver(run.ctx, loaded, toMachineState(loaded.txn, loaded.branches), null);

    // a's yes is queued before the stop: its step announces b's action, which must not go out
    void driver.post(aSaysYes);
    await driver.withdrawAndStop();

    expect(run.delivered).toEqual([]);
    const [answered, withdrawn] = run.written;
    expect(answered.events.filter((e) => e.type === 'call.started').map((e) => e.branchId)).toEqual(['b']);
    expect(withdrawn.events.map((e) => [e.type, e.branchId, e.detail])).toEqual([
      ['call.deferred', 'b', expect.objectContaining({ reason: 'coordinator-stopped' })],
    ]);
    expect(withdrawn.txn.owner).toBeNull();
    expect(withdrawn.txn.wakeAt).not.toBeNull();
    expect(withdrawn.branches.map((b) => [b.id, b.inFlight])).toEqual([['b', false]]);
  });

  describe('an interactive registration', () => {
    it('keeps a let-go queued ahead of it from releasing the transaction; it lets go after its own', async () => {
      const run = scripted({});
      const loaded = interactiveTccIdle();
      const driver = new TransactionDriver(run.ctx, loaded, toMachineState(loaded.txn, loaded.branches), null);

      const letGo = driver.letGoIfIdle();
      const registered = driver.register('x', () => ({ record: branch('x', 1, { phase: Phase.Try, dependsOn: [] }) }));
      await letGo;
      expect(run.detached()).toBeNull();
      expect(await registered).toEqual({ status: BranchStatus.Succeeded });
      await driver.letGoIfIdle();
      expect(run.detached()).toMatchObject({ settled: false });
      expect(run.delivered).toEqual(['x:try']);
    });

    it('is made by the driver that takes the transaction over when the one it found lets go before its turn', async () => {
      const run = scripted({});
      const { actions, first } = actionsOver(run, interactiveTccIdle);

      // an earlier registration's let-go is queued ahead: the driver found here is gone by its turn
      void first.letGoIfIdle();
      const registered = await actions.registerBranch('t1', { id: 'x', participant: 'p1' });

      expect(registered.status).toBe(BranchStatus.Succeeded);
      expect(run.delivered).toEqual(['x:try']);
      expect(run.written.filter((op) => op.branches.some((b) => b.id === 'x'))).not.toHaveLength(0);
    });
  });
});
