// the build config (tsconfig.build.json) compiles *.int-spec.ts with types ["node"] only
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { DEFAULT_3PC_TIMER_MARGIN_MS } from '#participant';
import { freshDatabase, type FreshDatabase } from '#testing';
import { demoOptionsFromEnv } from './demo-options';
import { startDemo, type Demo } from './start-demo';

interface Answer {
  status: number;
  body: Record<string, any>;
}

async function send(method: string, url: string, body?: unknown, timeoutMs = 10_000): Promise<Answer> {
  const raw = body === undefined ? undefined : JSON.stringify(body);
  const response = await fetch(url, {
    method,
    headers: raw === undefined ? {} : { 'content-type': 'application/json' },
    body: raw,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

/** What a caller sees of a call: its answer, or `dropped` (no answer: the connection was cut or never answered). */
async function attempt(url: string, body: unknown, timeoutMs: number): Promise<Answer | 'dropped'> {
  try {
    return await send('POST', url, body, timeoutMs);
  } catch {
    return 'dropped';
  }
}

type Stats = Record<string, number>;

/**
 * The 3PC routes of the demo accounts service with the participant timers of docs/protocols/3pc.md, driven by
 * hand (no coordinator): can-commit holds, pre-commit marks the hold, do-commit applies, abort
 * releases; a branch that voted yes and hears nothing by `deadline + margin` aborts on its own, a
 * pre-committed one commits on its own; late decisions that agree are duplicates, ones that disagree
 * are conflicts (200, counted in `heuristicConflicts`). Also the partition fault and a restart.
 */
describe('demo 3PC participant with timers (real Postgres)', () => {
  let db: FreshDatabase;
  let demo: Demo;
  const MARGIN = 100;

  beforeAll(async () => {
    db = await freshDatabase('demo3pc');
    demo = await startDemo({ databaseUrl: db.url, poolSize: 8, threePhaseTimerMarginMs: MARGIN });
  });

  afterAll(async () => {
    await demo?.close();
    await db?.drop();
  });

  afterEach(async () => {
    await send('DELETE', `${demo.accountsUrl}/_faults`);
  });

  const url = (phase: string) => `${demo.accountsUrl}/3pc/${phase}`;

  function body(tx: string, branchId: string, phase: string, deadline: number, payload: unknown) {
    return {
      transactionId: tx,
      branchId,
      protocol: '3pc',
      phase,
      attempt: 1,
      deadline: new Date(deadline).toISOString(),
      payload,
    };
  }

  async function account(balance: number): Promise<string> {
    const id = `acct-${randomUUID()}`;
    expect((await send('PUT', `${demo.accountsUrl}/accounts/${id}`, { balance })).status).toBe(200);
    return id;
  }

  async function balanceOf(id: string): Promise<number> {
    const { body: b } = await send('GET', `${demo.accountsUrl}/accounts`);
    return (b.items as { id: string; balance: number }[]).find((i) => i.id === id)!.balance;
  }

  async function stats(): Promise<Stats> {
    return (await send('GET', `${demo.accountsUrl}/_stats`)).body as Stats;
  }

  async function branchOf(tx: string, branchId: string) {
    const { body: b } = await send('GET', `${demo.accountsUrl}/_3pc?transactionId=${tx}`);
    return (b.items as Record<string, unknown>[]).find((i) => i.branchId === branchId) ?? null;
  }

  async function holds(tx: string): Promise<number> {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      return (await client.query('SELECT 1 FROM demo_holds WHERE transaction_id = $1', [tx])).rowCount ?? 0;
    } finally {
      await client.end();
    }
  }

  async function until(what: () => Promise<boolean>, ms = 5_000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await what())) {
      if (Date.now() > end) throw new Error('condition not reached in time');
      await sleep(25);
    }
  }

  it('can-commit holds, pre-commit marks, do-commit applies once; a decision in time disarms the timer', async () => {
    const id = await account(500);
    const tx = randomUUID();
    const deadline = Date.now() + 1500;
    const payload = { account: id, delta: -200 };
    const vote = await send('POST', url('can-commit'), body(tx, 'debit', 'can-commit', deadline, payload));
    expect(vote).toEqual({ status: 200, body: { kind: 'applied', result: { balance: 300 } } });
    expect((await send('POST', url('can-commit'), body(tx, 'debit', 'can-commit', deadline, payload))).body.kind).toBe(
      'duplicate',
    );
    expect(await branchOf(tx, 'debit')).toMatchObject({ status: 'voted', resolvedBy: null });

    expect((await send('POST', url('pre-commit'), body(tx, 'debit', 'pre-commit', deadline, payload))).body).toEqual({
      kind: 'applied',
    });
    expect(await branchOf(tx, 'debit')).toMatchObject({ status: 'pre-committed' });
    const done = await send('POST', url('do-commit'), body(tx, 'debit', 'do-commit', Date.now() + 2000, payload));
    expect(done.body).toEqual({ kind: 'applied', result: { balance: 300 } });
    expect(await holds(tx)).toBe(0);
    const before = await stats();
    await sleep(deadline + MARGIN + 200 - Date.now());
    expect(await branchOf(tx, 'debit')).toMatchObject({
      status: 'committed',
      resolvedBy: 'coordinator',
      conflict: null,
    });
    const after = await stats();
    expect(after.timerCommits).toBe(before.timerCommits);
    expect(await balanceOf(id)).toBe(300);
  });

  it('a branch that voted yes and never saw pre-commit aborts on its own at deadline + margin', async () => {
    const id = await account(500);
    const tx = randomUUID();
    const deadline = Date.now() + 1500;
    const payload = { account: id, delta: -200 };
    const before = await stats();
    expect((await send('POST', url('can-commit'), body(tx, 'debit', 'can-commit', deadline, payload))).status).toBe(
      200,
    );
    expect(await balanceOf(id)).toBe(300);

    await sleep(deadline + MARGIN - Date.now() - 50);
    expect(await branchOf(tx, 'debit')).toMatchObject({ status: 'voted' }); // not before its time
    await until(async () => (await branchOf(tx, 'debit'))?.status === 'aborted');
    expect(Date.now()).toBeGreaterThanOrEqual(deadline + MARGIN);
    expect(await branchOf(tx, 'debit')).toMatchObject({ resolvedBy: 'timer' });
    expect(await balanceOf(id)).toBe(500);
    expect(await holds(tx)).toBe(0);

    // the coordinator's late abort agrees: acknowledged, not applied twice
    expect((await send('POST', url('abort'), body(tx, 'debit', 'abort', Date.now(), payload))).body).toEqual({
      kind: 'duplicate',
    });
    // a late pre-commit is refused (it would commit what is already released)
    const late = await send('POST', url('pre-commit'), body(tx, 'debit', 'pre-commit', deadline, payload));
    expect(late.status).toBe(409);
    // refused by the barrier: the timer's abort fenced pre-commit off with can-commit
    expect(late.body.detail).toMatch(/pre-commit refused: its undo phase already ran/);
    const after = await stats();
    expect(after.timerAborts - before.timerAborts).toBe(1);
    expect(after.heuristicConflicts - before.heuristicConflicts).toBe(0);
    expect(await balanceOf(id)).toBe(500);
  });

  it('a pre-committed branch that hears nothing commits on its own; a late abort is a conflict, answered 200 and counted', async () => {
    const from = await account(500);
    const to = await account(500);
    const tx = randomUUID();
    const deadline = Date.now() + 1500;
    const before = await stats();
    for (const [branch, payload] of [
      ['debit', { account: from, delta: -200 }],
      ['credit', { account: to, delta: 200 }],
    ] as const) {
      expect((await send('POST', url('can-commit'), body(tx, branch, 'can-commit', deadline, payload))).status).toBe(
        200,
      );
      expect((await send('POST', url('pre-commit'), body(tx, branch, 'pre-commit', deadline, payload))).status).toBe(
        200,
      );
    }
    expect([await balanceOf(from), await balanceOf(to)]).toEqual([300, 500]); // held, not granted yet

    await until(async () => (await branchOf(tx, 'credit'))?.status === 'committed');
    await until(async () => (await branchOf(tx, 'debit'))?.status === 'committed');
    expect([await balanceOf(from), await balanceOf(to)]).toEqual([300, 700]);
    expect(await holds(tx)).toBe(0);

    const agree = await send('POST', url('do-commit'), body(tx, 'debit', 'do-commit', Date.now(), {}));
    expect(agree.body).toEqual({ kind: 'duplicate' });
    const contrary = await send('POST', url('abort'), body(tx, 'credit', 'abort', Date.now(), {}));
    expect(contrary.status).toBe(200);
    expect(contrary.body).toMatchObject({ kind: 'conflict', status: 'committed', resolvedBy: 'timer' });
    const again = await send('POST', url('abort'), body(tx, 'credit', 'abort', Date.now(), {}));
    expect(again.body).toEqual({ kind: 'duplicate' });

    expect([await balanceOf(from), await balanceOf(to)]).toEqual([300, 700]); // nothing undone
    expect(await branchOf(tx, 'credit')).toMatchObject({ status: 'committed', conflict: 'abort after timer commit' });
    const after = await stats();
    expect(after.timerCommits - before.timerCommits).toBe(2);
    expect(after.heuristicConflicts - before.heuristicConflicts).toBe(1);
  });

  it('an abort before the timer releases the hold and the timer never fires', async () => {
    const id = await account(500);
    const tx = randomUUID();
    const deadline = Date.now() + 1500;
    const payload = { account: id, delta: -200 };
    await send('POST', url('can-commit'), body(tx, 'debit', 'can-commit', deadline, payload));
    await send('POST', url('pre-commit'), body(tx, 'debit', 'pre-commit', deadline, payload));
    const before = await stats();
    expect((await send('POST', url('abort'), body(tx, 'debit', 'abort', Date.now() + 2000, payload))).body).toEqual({
      kind: 'applied',
      result: { balance: 500 },
    });
    await sleep(deadline + MARGIN + 200 - Date.now());
    expect(await branchOf(tx, 'debit')).toMatchObject({ status: 'aborted', resolvedBy: 'coordinator' });
    expect((await stats()).timerCommits).toBe(before.timerCommits);
    expect(await balanceOf(id)).toBe(500);
  });

  it('refuses (409) a can-commit or pre-commit processed after its deadline, and a late can-commit after a null abort', async () => {
    const id = await account(500);
    const payload = { account: id, delta: -200 };
    const tx = randomUUID();
    const lateVote = await send('POST', url('can-commit'), body(tx, 'debit', 'can-commit', Date.now() - 1, payload));
    expect(lateVote.status).toBe(409);
    expect(lateVote.body.detail).toMatch(/deadline .* has passed/);

    const tx2 = randomUUID();
    const deadline = Date.now() + 150;
    expect((await send('POST', url('can-commit'), body(tx2, 'debit', 'can-commit', deadline, payload))).status).toBe(
      200,
    );
    await sleep(deadline - Date.now() + 5); // past the deadline, before deadline + margin
    const latePre = await send('POST', url('pre-commit'), body(tx2, 'debit', 'pre-commit', deadline, payload));
    expect(latePre.status).toBe(409);
    await until(async () => (await branchOf(tx2, 'debit'))?.status === 'aborted');

    const tx3 = randomUUID();
    expect((await send('POST', url('abort'), body(tx3, 'debit', 'abort', Date.now(), payload))).body.kind).toBe(
      'null-compensation',
    );
    const refused = await send('POST', url('can-commit'), body(tx3, 'debit', 'can-commit', Date.now() + 5000, payload));
    expect(refused.status).toBe(409);
    expect(refused.body.kind).toBe('refused');
    expect(await balanceOf(id)).toBe(500);
  });

  it('a partition drops matching calls unanswered until it ends (before: no work; after: work done, reply lost)', async () => {
    const id = await account(500);
    const tx = randomUUID();
    const deadline = Date.now() + 10_000;
    const payload = { account: id, delta: -200 };
    const bad = await send('POST', `${demo.accountsUrl}/_faults`, { partition: true });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/untilMs/);
    await send('POST', `${demo.accountsUrl}/_faults`, {
      transactionId: tx,
      phase: 'pre-commit',
      partition: true,
      when: 'after',
      untilMs: 800,
    });
    await send('POST', `${demo.accountsUrl}/_faults`, { transactionId: tx, partition: true, untilMs: 800 });
    const before = await stats();

    // can-commit: dropped before the work (the catch-all rule)
    expect(await attempt(url('can-commit'), body(tx, 'debit', 'can-commit', deadline, payload), 300)).toBe('dropped');
    expect(await balanceOf(id)).toBe(500);
    // another transaction is not cut off
    const other = randomUUID();
    expect(
      (await send('POST', url('can-commit'), body(other, 'debit', 'can-commit', deadline, { account: id, delta: -1 })))
        .status,
    ).toBe(200);
    await send('POST', url('abort'), body(other, 'debit', 'abort', deadline, {}));

    await sleep(900); // the partition is over
    expect((await send('POST', url('can-commit'), body(tx, 'debit', 'can-commit', deadline, payload))).status).toBe(
      200,
    );
    await send('POST', `${demo.accountsUrl}/_faults`, {
      transactionId: tx,
      phase: 'pre-commit',
      partition: true,
      when: 'after',
      untilMs: 5_000,
    });
    const held = attempt(url('pre-commit'), body(tx, 'debit', 'pre-commit', deadline, payload), 4_000);
    await until(async () => (await branchOf(tx, 'debit'))?.status === 'pre-committed'); // the work is done...
    await sleep(100);
    await send('DELETE', `${demo.accountsUrl}/_faults`); // ...and the held call is let go without a reply
    expect(await held).toBe('dropped');
    const retry = await send('POST', url('pre-commit'), body(tx, 'debit', 'pre-commit', deadline, payload));
    expect(retry.body).toEqual({ kind: 'duplicate' });
    await send('POST', url('abort'), body(tx, 'debit', 'abort', deadline, payload));
    expect(await balanceOf(id)).toBe(500);
    expect((await stats()).dropped - before.dropped).toBe(2);
  });

  it('a restarted demo resolves overdue branches by the same rule before it answers, and re-arms the others', async () => {
    const restartDb = await freshDatabase('demo3pc_restart');
    let first: Demo | null = await startDemo({ databaseUrl: restartDb.url, poolSize: 4, threePhaseTimerMarginMs: 0 });
    let second: Demo | null = null;
    try {
      const u = (d: Demo, phase: string) => `${d.accountsUrl}/3pc/${phase}`;
      const balances = async (d: Demo) =>
        Object.fromEntries(
          ((await send('GET', `${d.accountsUrl}/accounts`)).body.items as { id: string; balance: number }[]).map(
            (a) => [a.id, a.balance],
          ),
        );
      const soon = Date.now() + 300;
      const later = Date.now() + 2_500;
      const tx = randomUUID();
      // voted only: aborts on its own; pre-committed: commits on its own; the third is not due yet at restart
      await send('POST', u(first, 'can-commit'), body(tx, 'v', 'can-commit', soon, { account: 'A', delta: -100 }));
      await send('POST', u(first, 'can-commit'), body(tx, 'p', 'can-commit', soon, { account: 'B', delta: -100 }));
      await send('POST', u(first, 'pre-commit'), body(tx, 'p', 'pre-commit', soon, {}));
      await send('POST', u(first, 'can-commit'), body(tx, 'q', 'can-commit', later, { account: 'C', delta: -100 }));
      await send('POST', u(first, 'pre-commit'), body(tx, 'q', 'pre-commit', later, {}));
      expect(await balances(first)).toEqual({ A: 900, B: 900, C: 900 });
      await first.close();
      first = null;

      await sleep(soon + 100 - Date.now()); // overdue while the demo is down
      second = await startDemo({ databaseUrl: restartDb.url, poolSize: 4, threePhaseTimerMarginMs: 0 });
      const rows = (await send('GET', `${second.accountsUrl}/_3pc?transactionId=${tx}`)).body;
      expect(rows.items.map((r: any) => [r.branchId, r.status, r.resolvedBy])).toEqual([
        ['p', 'committed', 'timer'],
        ['q', 'pre-committed', null],
        ['v', 'aborted', 'timer'],
      ]);
      expect(rows.armed.map((a: any) => [a.key.branchId, a.decision])).toEqual([['q', 'commit']]);
      expect(await balances(second)).toEqual({ A: 1000, B: 900, C: 900 });
      const d = second;
      await until(async () => {
        const r = (await send('GET', `${d.accountsUrl}/_3pc?transactionId=${tx}`)).body;
        return r.items.find((x: any) => x.branchId === 'q').status === 'committed';
      });
      expect(Date.now()).toBeGreaterThanOrEqual(later);
      expect(await balances(second)).toEqual({ A: 1000, B: 900, C: 900 });
    } finally {
      await first?.close();
      await second?.close();
      await restartDb.drop();
    }
  });

  it("reads DEMO_3PC_TIMER_MARGIN_MS (default: the SDK's, 2 s)", () => {
    expect(demoOptionsFromEnv({}).threePhaseTimerMarginMs).toBe(DEFAULT_3PC_TIMER_MARGIN_MS);
    expect(DEFAULT_3PC_TIMER_MARGIN_MS).toBe(2_000);
    expect(demoOptionsFromEnv({ DEMO_3PC_TIMER_MARGIN_MS: '50' }).threePhaseTimerMarginMs).toBe(50);
    expect(() => demoOptionsFromEnv({ DEMO_3PC_TIMER_MARGIN_MS: '-1' })).toThrow(/DEMO_3PC_TIMER_MARGIN_MS/);
  });
});
