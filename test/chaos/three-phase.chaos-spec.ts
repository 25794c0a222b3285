import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { startDemo } from '../../apps/demo/src/start-demo';
import {
  CoordinatorProcess,
  TEST_REDIS_URL,
  apiClient,
  freshDatabase,
  freshRedisPrefix,
  type ApiClient,
  type FreshDatabase,
} from '#testing';

type Demo = Awaited<ReturnType<typeof startDemo>>;

/**
 * The demo's 3PC timers fire this long after the call's deadline (DEMO_3PC_TIMER_MARGIN_MS; 2 s by
 * default). Narrower here, to keep the suite short, but wide enough: a coordinator's abort decided at
 * the deadline must reach the participants before their timers, and on a loaded 2-core test machine
 * that took longer than 200 ms now and then.
 */
const MARGIN = 1000;

interface ThreePcRow {
  branchId: string;
  status: 'voted' | 'pre-committed' | 'committed' | 'aborted';
  resolvedBy: 'coordinator' | 'timer' | null;
  conflict: string | null;
  updatedAt: string;
}

/**
 * docs/protocols/3pc-vs-2pc.md against the real coordinator (a child process, killed with CRASH_AT
 * and restarted on the same database) and the demo accounts service in-process, whose 3PC routes
 * run the participant timers of docs/protocols/3pc.md (deadline + MARGIN). Every transaction is a transfer of
 * 100 between two fresh accounts: branch `debit` (A, -100, held at can-commit/prepare) and branch
 * `credit` (B, +100, granted at commit). What each participant did is read from the demo: balances,
 * its holds table, its 3PC state table (`GET /_3pc`) and `GET /_stats`. Each claim's 2PC contrast,
 * where the doc gives one, runs the same crash or partition with `protocol: '2pc'`.
 */
describe('3PC vs 2PC on the demo bank (docs/protocols/3pc-vs-2pc.md)', () => {
  let coordinatorDb: FreshDatabase;
  let demoDb: FreshDatabase;
  let demo: Demo;
  const prefix = freshRedisPrefix('threepc');
  const started: CoordinatorProcess[] = [];

  beforeAll(async () => {
    coordinatorDb = await freshDatabase('threepc');
    demoDb = await freshDatabase('threepc_demo');
    demo = await startDemo({
      databaseUrl: demoDb.url,
      accountsPort: 0,
      inventoryPort: 0,
      threePhaseTimerMarginMs: MARGIN,
    });
  });
  afterAll(async () => {
    for (const c of started) await c.kill();
    await demo?.close();
    await coordinatorDb?.drop();
    await demoDb?.drop();
  });
  afterEach(async () => {
    await fetch(`${demo.accountsUrl}/_faults`, { method: 'DELETE' });
  });

  // ---------------------------------------------------------------- helpers

  async function coordinator(
    env: Record<string, string> = {},
    redisPrefix = prefix,
  ): Promise<{ proc: CoordinatorProcess; api: ApiClient }> {
    const proc = new CoordinatorProcess({
      databaseUrl: coordinatorDb.url,
      redisUrl: TEST_REDIS_URL,
      redisPrefix,
    });
    started.push(proc);
    const api = apiClient(await proc.start({ LOG_LEVEL: 'warn', ...env }));
    const registered = await api.post('/v1/participants', { name: 'accounts', url: demo.accountsUrl });
    expect([200, 201]).toContain(registered.status);
    return { proc, api };
  }

  const uniq = () => randomBytes(4).toString('hex');

  /** Two fresh accounts at 1000. */
  async function accounts(label: string): Promise<[string, string]> {
    const ids: [string, string] = [`${label}-A-${uniq()}`, `${label}-B-${uniq()}`];
    for (const id of ids) {
      const r = await fetch(`${demo.accountsUrl}/accounts/${id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ balance: 1000 }),
      });
      expect(r.status).toBe(200);
    }
    return ids;
  }

  async function balances(ids: string[]): Promise<number[]> {
    const body = (await (await fetch(`${demo.accountsUrl}/accounts`)).json()) as {
      items: { id: string; balance: number }[];
    };
    return ids.map((id) => body.items.find((a) => a.id === id)!.balance);
  }

  function transfer(protocol: '3pc' | '2pc', id: string, [from, to]: [string, string], timeoutMs: number) {
    return {
      id,
      protocol,
      timeoutMs,
      branches: [
        { id: 'debit', participant: 'accounts', payload: { account: from, delta: -100 } },
        { id: 'credit', participant: 'accounts', payload: { account: to, delta: 100 } },
      ],
    };
  }

  /** The demo's 3PC state rows of one transaction, by branch. */
  async function threePc(tx: string): Promise<Record<string, ThreePcRow>> {
    const body = (await (await fetch(`${demo.accountsUrl}/_3pc?transactionId=${tx}`)).json()) as {
      items: ThreePcRow[];
    };
    return Object.fromEntries(body.items.map((r) => [r.branchId, r]));
  }

  const summary = (rows: Record<string, ThreePcRow>) =>
    Object.fromEntries(Object.entries(rows).map(([b, r]) => [b, `${r.status}/${r.resolvedBy}`]));

  /** The demo's open holds (2PC prepared, or 3PC voted/pre-committed) of one transaction. */
  async function holds(tx: string): Promise<string[]> {
    return query(demoDb, 'SELECT branch_id FROM demo_holds WHERE transaction_id = $1 ORDER BY branch_id', [tx]).then(
      (rows) => rows.map((r) => r.branch_id as string),
    );
  }

  async function stats(): Promise<Record<string, number> & { byPhase: Record<string, number> }> {
    return (await (await fetch(`${demo.accountsUrl}/_stats`)).json()) as Record<string, number> & {
      byPhase: Record<string, number>;
    };
  }

  /** What changed in the demo's counters between two snapshots. */
  function delta(before: Awaited<ReturnType<typeof stats>>, after: Awaited<ReturnType<typeof stats>>) {
    const d: Record<string, number> = {};
    for (const k of ['applied', 'duplicates', 'nullCompensations', 'timerCommits', 'timerAborts', 'heuristicConflicts'])
      d[k] = after[k] - before[k];
    for (const p of ['do-commit', 'abort', 'commit', 'rollback'])
      d[p] = (after.byPhase[p] ?? 0) - (before.byPhase[p] ?? 0);
    return d;
  }

  async function faults(rule: Record<string, unknown>): Promise<void> {
    const r = await fetch(`${demo.accountsUrl}/_faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(rule),
    });
    expect(r.status).toBe(200);
  }

  /** The transaction's row in the coordinator's log (readable while no coordinator runs). */
  async function logOf(id: string): Promise<{ status: string; decision: string | null; deadline: number }> {
    const [row] = await query(coordinatorDb, 'SELECT status, decision, deadline FROM txc_transactions WHERE id = $1', [
      id,
    ]);
    return { status: row.status, decision: row.decision, deadline: (row.deadline as Date).getTime() };
  }

  async function waitFor(what: string, ok: () => Promise<boolean>, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
      await sleep(50);
    }
  }

  const sleepUntil = (at: number) => sleep(Math.max(0, at - Date.now()));

  /**
   * One coordinator per run, each started with its own CRASH_AT (and its own queue, and no sweep
   * while it lives), each sent its transaction at the same moment; resolves once all of them died (SIGKILL) at their crash points, with each
   * transaction's row in the log.
   */
  async function crash(...runs: { crashAt: string; body: { id: string } }[]) {
    // each sees only its own transaction: on a loaded machine one may die well before the other,
    // which must not take the dead one's transaction over (by its sweep, or by a wake-up it was
    // queued) and drive it on before the test looks
    const alone = { SWEEP_INTERVAL_MS: '600000', INSTANCE_TTL_MS: '1200000' };
    const coordinators = await Promise.all(
      runs.map((r) => coordinator({ CRASH_AT: r.crashAt, ...alone }, freshRedisPrefix('threepc_crash'))),
    );
    // a request may be answered or cut by the crash; either way the log decides what happens next
    await Promise.all(runs.map((r, i) => coordinators[i].api.post('/v1/transactions', r.body).catch(() => null)));
    for (const [i, { proc }] of coordinators.entries()) {
      expect(await proc.exited).toBeNull(); // killed by a signal, not exited
      expect(proc.log).toContain(`CRASH_AT ${runs[i].crashAt.split(':')[0]}`);
    }
    return Promise.all(runs.map((r) => logOf(r.body.id)));
  }

  /** A new coordinator on the same log; resolves once it has settled every transaction, then stops it. */
  async function restart(...ids: string[]): Promise<any[]> {
    const { proc, api } = await coordinator();
    try {
      const views = [];
      for (const id of ids) {
        views.push(
          await api.until(
            `/v1/transactions/${id}`,
            (t: any) => ['committed', 'aborted', 'failed'].includes(t.status),
            20_000,
          ),
        );
      }
      return views;
    } finally {
      await proc.stop();
    }
  }

  async function query(db: FreshDatabase, sql: string, params: unknown[]): Promise<any[]> {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  // ---------------------------------------------------------------- H1

  describe('H1: a participant that loses the coordinator after the commit decision does not block', () => {
    it('3PC and 2PC side by side, killed at after-decision and kept down past deadline + margin: the 3PC participants commit on their own while the 2PC ones stay prepared; after a restart both are committed and the re-sent do-commits are no-ops', async () => {
      const [pair3, pair2] = [await accounts('h1-3pc'), await accounts('h1-2pc')];
      const [id3, id2] = [`h1-3pc-${uniq()}`, `h1-2pc-${uniq()}`];
      const [log3, log2] = await crash(
        { crashAt: 'after-decision', body: transfer('3pc', id3, pair3, 1500) },
        { crashAt: 'after-decision', body: transfer('2pc', id2, pair2, 1500) },
      );
      // the commit decisions are durable, and no do-commit / commit was sent
      expect(log3).toMatchObject({ status: 'committing', decision: 'commit' });
      expect(log2).toMatchObject({ status: 'committing', decision: 'commit' });
      expect(summary(await threePc(id3))).toEqual({ debit: 'pre-committed/null', credit: 'pre-committed/null' });

      // no coordinator runs from here on
      await waitFor(
        'the 3PC branches committed by their timers',
        async () => Object.values(await threePc(id3)).every((r) => r.status === 'committed'),
        log3.deadline + MARGIN + 3_000 - Date.now(),
      );
      expect(Date.now()).toBeGreaterThanOrEqual(log3.deadline + MARGIN);
      await sleepUntil(Math.max(log3.deadline, log2.deadline) + MARGIN + 300);
      expect(summary(await threePc(id3))).toEqual({ debit: 'committed/timer', credit: 'committed/timer' });
      expect(await balances(pair3)).toEqual([900, 1100]);
      expect(await holds(id3)).toEqual([]);
      // 2PC: still prepared, the debit held and the credit not granted
      expect(await holds(id2)).toEqual(['credit', 'debit']);
      expect(await balances(pair2)).toEqual([900, 1000]);

      const before = await stats();
      const [t3, t2] = await restart(id3, id2);
      expect(t3.status).toBe('committed');
      expect(t3.events.map((e: any) => e.type)).toContain('transaction.recovered');
      expect(t2.status).toBe('committed');
      // the 3PC do-commits are duplicates; the 2PC commits are what applies the 2PC transfer
      expect(delta(before, await stats())).toMatchObject({
        'do-commit': 2,
        duplicates: 2,
        commit: 2,
        applied: 2,
        heuristicConflicts: 0,
      });
      expect(await balances(pair3)).toEqual([900, 1100]);
      expect(await balances(pair2)).toEqual([900, 1100]);
      expect(await holds(id2)).toEqual([]);
    });
  });

  // ---------------------------------------------------------------- H2

  describe('H2: a coordinator crash before pre-commit: participants do not wait for the takeover', () => {
    it('3PC and 2PC side by side, killed while the second can-commit / prepare is in flight, nobody restarted until deadline + margin: the 3PC participants abort on their own while the 2PC ones stay prepared; after a restart both are aborted and the 3PC aborts are no-ops', async () => {
      const [pair3, pair2] = [await accounts('h2-3pc'), await accounts('h2-2pc')];
      const [id3, id2] = [`h2-3pc-${uniq()}`, `h2-2pc-${uniq()}`];
      // credit votes at once but its answer takes 1 s: each coordinator dies after the debit's answer
      await faults({
        transactionId: id3,
        branchId: 'credit',
        phase: 'can-commit',
        status: 200,
        when: 'after',
        delayMs: 1000,
      });
      await faults({
        transactionId: id2,
        branchId: 'credit',
        phase: 'prepare',
        status: 200,
        when: 'after',
        delayMs: 1000,
      });
      const [log3, log2] = await crash(
        { crashAt: 'after-call:1', body: transfer('3pc', id3, pair3, 1500) },
        { crashAt: 'after-call:1', body: transfer('2pc', id2, pair2, 1500) },
      );
      expect(log3).toMatchObject({ status: 'running', decision: null });
      expect(log2).toMatchObject({ status: 'running', decision: null });
      await waitFor('both 3PC branches voted', async () => Object.keys(await threePc(id3)).length === 2, 2_000);
      expect(summary(await threePc(id3))).toEqual({ debit: 'voted/null', credit: 'voted/null' });
      expect(await balances(pair3)).toEqual([900, 1000]);

      await waitFor(
        'the 3PC branches aborted by their timers',
        async () => Object.values(await threePc(id3)).every((r) => r.status === 'aborted'),
        log3.deadline + MARGIN + 3_000 - Date.now(),
      );
      expect(Date.now()).toBeGreaterThanOrEqual(log3.deadline + MARGIN);
      await sleepUntil(Math.max(log3.deadline, log2.deadline) + MARGIN + 300);
      expect(summary(await threePc(id3))).toEqual({ debit: 'aborted/timer', credit: 'aborted/timer' });
      expect(await balances(pair3)).toEqual([1000, 1000]); // resources free with no coordinator running
      expect(await holds(id3)).toEqual([]);
      // 2PC: both prepared, holding
      expect(await holds(id2)).toEqual(['credit', 'debit']);
      expect(await balances(pair2)).toEqual([900, 1000]);

      const before = await stats();
      const [t3, t2] = await restart(id3, id2);
      expect(t3.status).toBe('aborted');
      expect(t3.events.map((e: any) => e.type)).toContain('transaction.recovered');
      expect(t2.status).toBe('aborted');
      expect(delta(before, await stats())).toMatchObject({
        abort: 2,
        duplicates: 2,
        rollback: 2,
        applied: 2,
        heuristicConflicts: 0,
      });
      expect(await balances(pair3)).toEqual([1000, 1000]);
      expect(await balances(pair2)).toEqual([1000, 1000]);
      expect(await holds(id2)).toEqual([]);
    });
  });

  // ---------------------------------------------------------------- H3

  describe('H3: a takeover during pre-commit, before the deadline, stays consistent', () => {
    it('3PC: killed after the first pre-commit answer, taken over well before the deadline: aborted, every participant aborted by the coordinator before its timer, none committed', async () => {
      const pair = await accounts('h3');
      const id = `h3-3pc-${uniq()}`;
      const [log] = await crash({ crashAt: 'after-call:3', body: transfer('3pc', id, pair, 6000) });
      expect(log).toMatchObject({ status: 'running', decision: null });
      const atCrash = Object.values(await threePc(id)).map((r) => r.status);
      expect(atCrash).toContain('pre-committed'); // the third call, the answer the coordinator died on
      expect(atCrash.every((s) => s === 'voted' || s === 'pre-committed')).toBe(true);

      const before = await stats();
      const [t] = await restart(id);
      expect(t.status).toBe('aborted');
      expect(Date.now()).toBeLessThan(log.deadline); // the takeover came before the deadline
      expect(summary(await threePc(id))).toEqual({ debit: 'aborted/coordinator', credit: 'aborted/coordinator' });
      expect(await balances(pair)).toEqual([1000, 1000]);

      await sleepUntil(log.deadline + MARGIN + 300); // the timers' time passes: nothing fires
      expect(summary(await threePc(id))).toEqual({ debit: 'aborted/coordinator', credit: 'aborted/coordinator' });
      expect(delta(before, await stats())).toMatchObject({ timerCommits: 0, timerAborts: 0, heuristicConflicts: 0 });
      expect(await balances(pair)).toEqual([1000, 1000]);
      expect(await holds(id)).toEqual([]);
    });
  });

  // ---------------------------------------------------------------- N3

  describe('N3: a crash during pre-commit taken over after the deadline loses atomicity', () => {
    it('3PC and 2PC side by side, killed once every pre-commit / prepare was acknowledged but before the last was recorded, restarted after deadline + margin: 3PC ends aborted while both its participants committed on their timers; 2PC waited prepared and is rolled back', async () => {
      const [pair3, pair2] = [await accounts('n3-3pc'), await accounts('n3-2pc')];
      const [id3, id2] = [`n3-3pc-${uniq()}`, `n3-2pc-${uniq()}`];
      const [log3, log2] = await crash(
        { crashAt: 'after-call:4', body: transfer('3pc', id3, pair3, 1500) }, // 2 can-commits, 2 pre-commits
        { crashAt: 'after-call:2', body: transfer('2pc', id2, pair2, 1500) }, // 2 prepares
      );
      expect(log3).toMatchObject({ status: 'running', decision: null }); // no decision in the log
      expect(log2).toMatchObject({ status: 'running', decision: null });
      expect(summary(await threePc(id3))).toEqual({ debit: 'pre-committed/null', credit: 'pre-committed/null' });

      await waitFor(
        'the 3PC branches committed by their timers',
        async () => Object.values(await threePc(id3)).every((r) => r.status === 'committed'),
        log3.deadline + MARGIN + 3_000 - Date.now(),
      );
      await sleepUntil(Math.max(log3.deadline, log2.deadline) + MARGIN + 300);
      expect(await balances(pair3)).toEqual([900, 1100]);
      expect(await holds(id2)).toEqual(['credit', 'debit']);
      expect(await balances(pair2)).toEqual([900, 1000]);

      const before = await stats();
      const [t3, t2] = await restart(id3, id2);
      // the violation, documented: the coordinator presumes abort, the 3PC participants have committed
      expect(t3.status).toBe('aborted');
      expect(t3.events.map((e: any) => e.type)).toContain('transaction.recovered');
      expect(t2.status).toBe('aborted');
      // the 3PC aborts change nothing (conflicts); the 2PC rollbacks are what releases the 2PC holds
      expect(delta(before, await stats())).toMatchObject({ abort: 2, heuristicConflicts: 2, rollback: 2, applied: 2 });
      const rows = await threePc(id3);
      expect(summary(rows)).toEqual({ debit: 'committed/timer', credit: 'committed/timer' });
      expect([rows.debit.conflict, rows.credit.conflict]).toEqual([
        'abort after timer commit',
        'abort after timer commit',
      ]);
      expect(await balances(pair3)).toEqual([900, 1100]);
      expect(await holds(id2)).toEqual([]);
      expect(await balances(pair2)).toEqual([1000, 1000]);
    });
  });

  // ---------------------------------------------------------------- N1, N2, N4: one coordinator, no crash

  describe('with the coordinator running (partitions, client abort, late answers)', () => {
    let proc: CoordinatorProcess;
    let api: ApiClient;
    beforeAll(async () => {
      ({ proc, api } = await coordinator());
    });
    afterAll(async () => {
      await proc?.stop();
    });

    const settled = (id: string, ms = 20_000) =>
      api.until(`/v1/transactions/${id}`, (t: any) => ['committed', 'aborted', 'failed'].includes(t.status), ms);

    /**
     * Cuts branch `credit` of `id` off for `ms` from the moment it has done `phase`: that phase's work
     * commits and its reply is lost, and every later call (`completion`, retries included) is lost
     * before it does anything. The calls before `phase` get through.
     */
    async function partitionCreditAfter(id: string, phase: string, completion: string[], ms: number): Promise<number> {
      for (const p of [phase, ...completion]) {
        await faults({
          transactionId: id,
          branchId: 'credit',
          phase: p,
          partition: true,
          when: p === phase ? 'after' : 'before',
          untilMs: ms,
        });
      }
      return Date.now() + ms;
    }

    it('N1 3PC: a partition right after B acknowledges pre-commit: the deadline aborts the transaction, A is aborted and B commits on its own timer (atomicity lost, a conflict when it heals)', async () => {
      const pair = await accounts('n1');
      const id = `n1-3pc-${uniq()}`;
      const healsAt = await partitionCreditAfter(id, 'pre-commit', ['do-commit', 'abort'], 4500);
      const before = await stats();
      expect((await api.post('/v1/transactions', transfer('3pc', id, pair, 1500))).status).toBe(201);
      const deadline = (await logOf(id)).deadline;

      await sleepUntil(deadline + MARGIN + 300);
      expect(Date.now()).toBeLessThan(healsAt); // still cut off
      expect(summary(await threePc(id))).toEqual({ debit: 'aborted/coordinator', credit: 'committed/timer' });
      expect(await balances(pair)).toEqual([1000, 1100]);

      const t = await settled(id);
      expect(t.status).toBe('aborted');
      expect(t.error).toBe('transaction timed out');
      expect(t.branches.map((b: any) => b.status)).toEqual(['completed', 'completed']); // the coordinator cannot tell
      const rows = await threePc(id);
      expect(summary(rows)).toEqual({ debit: 'aborted/coordinator', credit: 'committed/timer' });
      expect(rows.credit.conflict).toBe('abort after timer commit');
      expect(await balances(pair)).toEqual([1000, 1100]); // 100 created from nothing: the violation
      expect(delta(before, await stats())).toMatchObject({ heuristicConflicts: 1, timerCommits: 1, timerAborts: 0 });
    });

    it('N1 2PC, same partition after B prepares: B stays prepared (blocking) until the partition heals, then rolls back (consistent)', async () => {
      const pair = await accounts('n1-2pc');
      const id = `n1-2pc-${uniq()}`;
      const healsAt = await partitionCreditAfter(id, 'prepare', ['commit', 'rollback'], 4500);
      expect((await api.post('/v1/transactions', transfer('2pc', id, pair, 1500))).status).toBe(201);
      const deadline = (await logOf(id)).deadline;

      await sleepUntil(deadline + MARGIN + 300);
      expect(Date.now()).toBeLessThan(healsAt);
      expect(await holds(id)).toEqual(['credit']); // A rolled back, B still prepared
      expect(await balances(pair)).toEqual([1000, 1000]);

      const t = await settled(id);
      expect(t.status).toBe('aborted');
      expect(Date.now()).toBeGreaterThanOrEqual(healsAt);
      expect(await holds(id)).toEqual([]);
      expect(await balances(pair)).toEqual([1000, 1000]);
    });

    it('N2 3PC: a client abort during pre-commit while B (pre-committed) is cut off: A is aborted, B commits on its own timer (atomicity lost)', async () => {
      const pair = await accounts('n2');
      const id = `n2-3pc-${uniq()}`;
      await partitionCreditAfter(id, 'pre-commit', ['do-commit', 'abort'], 4500);
      const before = await stats();
      expect((await api.post('/v1/transactions', transfer('3pc', id, pair, 1500))).status).toBe(201);
      const deadline = (await logOf(id)).deadline;
      await waitFor(
        'both branches pre-committed',
        async () => {
          const rows = Object.values(await threePc(id));
          return rows.length === 2 && rows.every((r) => r.status === 'pre-committed');
        },
        1_000,
      );

      const abort = await api.post(`/v1/transactions/${id}/abort`);
      expect(abort.status).toBe(202);
      expect(Date.now()).toBeLessThan(deadline); // during pre-commit, not at the deadline
      await waitFor('A aborted by the coordinator', async () => (await threePc(id)).debit.status === 'aborted', 2_000);

      const t = await settled(id);
      expect(t.status).toBe('aborted');
      expect(t.error).toBe('abort requested');
      const rows = await threePc(id);
      expect(summary(rows)).toEqual({ debit: 'aborted/coordinator', credit: 'committed/timer' });
      expect(rows.credit.conflict).toBe('abort after timer commit');
      expect(await balances(pair)).toEqual([1000, 1100]);
      expect(delta(before, await stats())).toMatchObject({ heuristicConflicts: 1, timerCommits: 1 });
    });

    it('N4 3PC: pre-commit answers that arrive just after the deadline, everyone reachable: the abort reaches both participants within the margin, all aborted', async () => {
      const pair = await accounts('n4');
      const id = `n4-3pc-${uniq()}`;
      // both pre-commits are done at once, and every answer (retries too) is held back until just after the deadline
      await faults({ transactionId: id, phase: 'pre-commit', status: 200, when: 'after', delayMs: 1200, times: 20 });
      const before = await stats();
      expect((await api.post('/v1/transactions', transfer('3pc', id, pair, 1000))).status).toBe(201);
      const deadline = (await logOf(id)).deadline;

      const t = await settled(id);
      expect(t.status).toBe('aborted');
      expect(t.error).toBe('transaction timed out');
      await sleepUntil(deadline + MARGIN + 300);
      const rows = await threePc(id);
      expect(summary(rows)).toEqual({ debit: 'aborted/coordinator', credit: 'aborted/coordinator' });
      for (const r of Object.values(rows)) expect(Date.parse(r.updatedAt)).toBeLessThan(deadline + MARGIN);
      expect(await balances(pair)).toEqual([1000, 1000]);
      expect(delta(before, await stats())).toMatchObject({ timerCommits: 0, timerAborts: 0, heuristicConflicts: 0 });
    });
  });
});
