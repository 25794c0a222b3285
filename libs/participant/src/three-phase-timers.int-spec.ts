// the build config (tsconfig.build.json) compiles *.int-spec.ts with types ["node"] only
import { randomUUID } from 'node:crypto';
import { Pool, type PoolClient } from 'pg';
import { freshDatabase, type FreshDatabase } from '#testing';
import { Barrier } from './barrier';
import { ThreePhaseParticipant } from './three-phase-participant';
import type { ThreePhaseCall, ThreePhaseEvent } from './three-phase-participant-options';
import type { BranchKey, TimerClock } from './three-phase-timers';

/** Time moves only when told; due timers run only on `runDue` (so a test can race them against calls). */
class ManualClock implements TimerClock {
  time = Date.parse('2030-01-01T00:00:00Z');
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now = () => this.time;
  setTimeout = (fn: () => void, ms: number) => {
    this.timers.set(++this.seq, { at: this.time + ms, fn });
    return this.seq;
  };
  clearTimeout = (handle: unknown) => {
    this.timers.delete(handle as number);
  };
  runDue(): void {
    for (const [id, t] of [...this.timers.entries()].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at > this.time) continue;
      this.timers.delete(id);
      t.fn();
    }
  }
}

/**
 * ThreePhaseParticipant on Postgres: the work is a row per reservation and a counter of applies and
 * releases, so "exactly once" and "never both" can be counted.
 */
describe('ThreePhaseParticipant (real Postgres)', () => {
  let db: FreshDatabase;
  let pool: Pool;
  const barrier = new Barrier('tp_barrier');

  beforeAll(async () => {
    db = await freshDatabase('threephase');
    pool = new Pool({ connectionString: db.url, max: 24 });
    // pool.end() resolves before every backend has seen its Terminate; the DROP ... WITH (FORCE) of
    // afterAll may then kill one, which an idle client reports as an error event
    pool.on('error', () => undefined);
    await barrier.install(pool);
    for (const sql of ThreePhaseParticipant.ddl('tp_state')) await pool.query(sql);
    await pool.query(`CREATE TABLE tp_effects (transaction_id text, branch_id text, what text)`);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  function participant(clock: TimerClock, marginMs = 0, beforeReserve?: () => Promise<void>) {
    const events: ThreePhaseEvent[] = [];
    const errors: unknown[] = [];
    const effect = (what: string) => async (client: PoolClient, key: BranchKey) => {
      if (what === 'reserve') await beforeReserve?.();
      await client.query('INSERT INTO tp_effects VALUES ($1, $2, $3)', [key.transactionId, key.branchId, what]);
      return { what };
    };
    const p = new ThreePhaseParticipant<{ what: string }>({
      pool,
      barrier,
      table: 'tp_state',
      clock,
      marginMs,
      work: { reserve: effect('reserve'), apply: effect('apply'), release: effect('release') },
      onEvent: (e) => events.push(e),
      onError: (e) => errors.push(e),
    });
    return { p, events, errors };
  }

  async function effects(tx: string): Promise<Record<string, string[]>> {
    const { rows } = await pool.query('SELECT branch_id, what FROM tp_effects WHERE transaction_id = $1', [tx]);
    const out: Record<string, string[]> = {};
    for (const r of rows) (out[r.branch_id] ??= []).push(r.what);
    for (const list of Object.values(out)) list.sort();
    return out;
  }

  const call = (tx: string, branchId: string, phase: string, deadline?: number): ThreePhaseCall => ({
    transactionId: tx,
    branchId,
    phase: phase as ThreePhaseCall['phase'],
    ...(deadline === undefined ? {} : { deadline: new Date(deadline).toISOString() }),
  });

  it('a timer and a coordinator abort racing on 20 pre-committed branches: per branch exactly one wins, no deadlock, conflicts only after a timer commit', async () => {
    const clock = new ManualClock();
    const { p, events, errors } = participant(clock);
    const tx = randomUUID();
    const deadline = clock.time + 1000;
    const ids = Array.from({ length: 20 }, (_, i) => `b${i}`);
    for (const id of ids) {
      expect((await p.handle(call(tx, id, 'can-commit', deadline))).kind).toBe('applied');
      expect((await p.handle(call(tx, id, 'pre-commit', deadline))).kind).toBe('applied');
    }
    clock.time = deadline;
    // half the aborts leave before the own-commits start, half after: both orders get exercised
    const early = ids.filter((_, i) => i % 2 === 1).map((id) => [id, p.handle(call(tx, id, 'abort'))] as const);
    clock.runDue();
    const late = ids.filter((_, i) => i % 2 === 0).map((id) => [id, p.handle(call(tx, id, 'abort'))] as const);
    const byId = new Map([...early, ...late]);
    const aborts = await Promise.all(ids.map((id) => byId.get(id)!));
    await p.close(); // waits for the timers' local transactions
    expect(errors).toEqual([]);

    const done = await effects(tx);
    const committed = new Set(events.filter((e) => e.type === 'timer-commit').map((e) => e.key.branchId));
    ids.forEach((id, i) => {
      if (committed.has(id)) {
        expect(done[id]).toEqual(['apply', 'reserve']);
        expect(aborts[i]).toMatchObject({ kind: 'conflict', status: 'committed', resolvedBy: 'timer' });
      } else {
        expect(done[id]).toEqual(['release', 'reserve']);
        expect(aborts[i].kind).toBe('applied');
      }
    });
    const rows = await p.branches(tx);
    expect(rows.every((r) => r.status === (committed.has(r.branchId) ? 'committed' : 'aborted'))).toBe(true);
    expect(
      rows
        .filter((r) => r.conflict !== null)
        .map((r) => r.branchId)
        .sort(),
    ).toEqual([...committed].sort());
  });

  // the abort read the state row before the can-commit had committed it (none yet), waited on the
  // barrier for the can-commit, released the reservation, and left the row `voted` for good
  it('an abort arriving while its can-commit is still in its transaction leaves the branch aborted', async () => {
    const clock = new ManualClock();
    let inReserve!: () => void;
    const reserving = new Promise<void>((r) => (inReserve = r));
    let go!: () => void;
    const gate = new Promise<void>((r) => (go = r));
    const { p, errors } = participant(clock, 0, async () => {
      inReserve();
      await gate;
    });
    const tx = randomUUID();
    const canCommit = p.handle(call(tx, 'b', 'can-commit', clock.time + 60_000));
    await reserving; // the can-commit holds its barrier row, not committed yet
    const abort = p.handle(call(tx, 'b', 'abort'));
    // the abort has read the state row (none) and waits on the can-commit's barrier row
    for (let i = 0; i < 200 && !(await waitingOnALock()); i++) await new Promise((r) => setTimeout(r, 25));
    expect(await waitingOnALock()).toBe(true);
    go();
    expect([(await canCommit).kind, (await abort).kind]).toEqual(['applied', 'applied']);
    await p.close();
    expect(errors).toEqual([]);
    expect(await effects(tx)).toEqual({ b: ['release', 'reserve'] });
    expect((await p.branch({ transactionId: tx, branchId: 'b' }))?.status).toBe('aborted');
  });

  async function waitingOnALock(): Promise<boolean> {
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    return rows[0].n > 0;
  }

  it('duplicate deliveries of every phase apply once; the timer after a do-commit does nothing', async () => {
    const clock = new ManualClock();
    const { p, events } = participant(clock, 50);
    const tx = randomUUID();
    const deadline = clock.time + 1000;
    for (const phase of ['can-commit', 'pre-commit', 'do-commit']) {
      const kinds = (await Promise.all([1, 2, 3].map(() => p.handle(call(tx, 'b', phase, deadline)))))
        .map((r) => r.kind)
        .sort();
      expect(kinds).toEqual(['applied', 'duplicate', 'duplicate']);
    }
    expect(p.timers.armed()).toEqual([]);
    clock.time = deadline + 100;
    clock.runDue();
    await p.close();
    expect(events).toEqual([]);
    expect(await effects(tx)).toEqual({ b: ['apply', 'reserve'] });
  });

  it('a do-commit for a branch that never voted here (its abort came first) applies nothing, and is a conflict', async () => {
    const clock = new ManualClock();
    const { p, events } = participant(clock);
    const tx = randomUUID();
    expect((await p.handle(call(tx, 'b', 'abort'))).kind).toBe('null-compensation');
    expect(await p.handle(call(tx, 'b', 'do-commit'))).toMatchObject({ kind: 'conflict', decision: 'commit' });
    expect((await p.handle(call(tx, 'b', 'do-commit'))).kind).toBe('duplicate');
    // and one for a branch it has never heard of at all does not apply either
    expect(await p.handle(call(tx, 'other', 'do-commit'))).toMatchObject({ kind: 'conflict', status: 'aborted' });
    await p.close();
    expect(await effects(tx)).toEqual({});
    expect(events.map((e) => e.type)).toEqual(['conflict', 'conflict']);
  });

  it('recover resolves overdue branches by the rule and re-arms the rest; no deadline means no timer', async () => {
    const clock = new ManualClock();
    const first = participant(clock, 100);
    const tx = randomUUID();
    await first.p.handle(call(tx, 'voted', 'can-commit', clock.time + 500));
    await first.p.handle(call(tx, 'pre', 'can-commit', clock.time + 500));
    await first.p.handle(call(tx, 'pre', 'pre-commit', clock.time + 500));
    await first.p.handle(call(tx, 'later', 'can-commit', clock.time + 5000));
    await first.p.handle(call(tx, 'waits', 'can-commit')); // no deadline: waits for the coordinator like 2PC
    await first.p.close(); // the process goes away

    clock.time += 600; // deadline + margin passed for two of them
    const second = participant(clock, 100);
    expect(await second.p.recover()).toEqual({ resolved: 2, armed: 1 });
    expect(second.events.map((e) => `${e.type}:${e.key.branchId}`).sort()).toEqual([
      'timer-abort:voted',
      'timer-commit:pre',
    ]);
    expect(second.p.timers.armed().map((a) => [a.key.branchId, a.decision])).toEqual([['later', 'abort']]);
    clock.time += 5000;
    clock.runDue();
    await second.p.close();
    expect(await effects(tx)).toEqual({
      voted: ['release', 'reserve'],
      pre: ['apply', 'reserve'],
      later: ['release', 'reserve'],
      waits: ['reserve'],
    });
    expect((await second.p.branch({ transactionId: tx, branchId: 'waits' }))?.status).toBe('voted');
  });
});
