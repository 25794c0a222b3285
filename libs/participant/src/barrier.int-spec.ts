// the build config (tsconfig.build.json) compiles *.int-spec.ts with types ["node"] only
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { freshDatabase, type FreshDatabase } from '#testing';
import { Phase } from '#contracts';
import { Barrier, type BarrierCall } from './barrier';
import { BusinessRejection } from './business-rejection';

describe('Barrier (real Postgres)', () => {
  let db: FreshDatabase;
  let pool: Pool;
  const barrier = new Barrier('test_barrier');

  beforeAll(async () => {
    db = await freshDatabase('barrier');
    pool = new Pool({ connectionString: db.url, max: 24 });
    // pool.end() can resolve before the server closed every backend; the DROP ... FORCE below then
    // terminates it, which an idle client reports as an error: expected at teardown
    pool.on('error', () => undefined);
    await barrier.install(pool);
    await pool.query('CREATE TABLE counters (id text PRIMARY KEY, n integer NOT NULL)');
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  /** A counter per test, so tests never share state. */
  async function counter(): Promise<string> {
    const id = randomUUID();
    await pool.query('INSERT INTO counters (id, n) VALUES ($1, 0)', [id]);
    return id;
  }

  async function valueOf(id: string): Promise<number> {
    const { rows } = await pool.query<{ n: number }>('SELECT n FROM counters WHERE id = $1', [id]);
    return rows[0].n;
  }

  function deliver(call: BarrierCall, id: string, by: number) {
    return barrier.run(pool, call, async (client) => {
      const { rows } = await client.query<{ n: number }>('UPDATE counters SET n = n + $2 WHERE id = $1 RETURNING n', [
        id,
        by,
      ]);
      return rows[0].n;
    });
  }

  function calls(): { action: BarrierCall; compensate: BarrierCall } {
    const transactionId = randomUUID();
    return {
      action: { transactionId, branchId: 'b1', phase: 'action' },
      compensate: { transactionId, branchId: 'b1', phase: 'compensate' },
    };
  }

  it('applies a duplicated action once', async () => {
    const id = await counter();
    const { action } = calls();
    expect(await deliver(action, id, 5)).toEqual({ kind: 'applied', value: 5 });
    expect(await deliver(action, id, 5)).toEqual({ kind: 'duplicate' });
    expect(await deliver(action, id, 5)).toEqual({ kind: 'duplicate' });
    expect(await valueOf(id)).toBe(5);
  });

  it('treats compensate before action as a null compensation and refuses the late action', async () => {
    const id = await counter();
    const { action, compensate } = calls();
    expect(await deliver(compensate, id, -5)).toEqual({ kind: 'null-compensation' });
    expect(await deliver(compensate, id, -5)).toEqual({ kind: 'duplicate' });
    expect(await deliver(action, id, 5)).toEqual({ kind: 'refused' });
    expect(await deliver(action, id, 5)).toEqual({ kind: 'refused' });
    expect(await valueOf(id)).toBe(0);
  });

  it('applies compensate after action once, even when delivered three times', async () => {
    const id = await counter();
    const { action, compensate } = calls();
    expect(await deliver(action, id, 7)).toEqual({ kind: 'applied', value: 7 });
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await deliver(compensate, id, -7));
    expect(results.map((r) => r.kind)).toEqual(['applied', 'duplicate', 'duplicate']);
    expect(await valueOf(id)).toBe(0);
  });

  it('refuses a forward phase delivered again after its undo ran, as one delivered first after it', async () => {
    const id = await counter();
    const { action, compensate } = calls();
    expect((await deliver(action, id, 7)).kind).toBe('applied');
    expect(await deliver(action, id, 7)).toEqual({ kind: 'duplicate' });
    expect((await deliver(compensate, id, -7)).kind).toBe('applied');
    // a late repeat of the action (its first answer was lost) is a no now: the branch is undone
    expect(await deliver(action, id, 7)).toEqual({ kind: 'refused' });
    expect(await valueOf(id)).toBe(0);
    // 3PC: a can-commit or pre-commit repeated after the abort (the coordinator's or the timer's) is a no
    const transactionId = randomUUID();
    const three = (phase: BarrierCall['phase']): BarrierCall => ({ transactionId, branchId: 'b1', phase });
    expect((await deliver(three('can-commit'), id, 1)).kind).toBe('applied');
    expect((await deliver(three('pre-commit'), id, 1)).kind).toBe('applied');
    expect((await deliver(three('abort'), id, -2)).kind).toBe('applied');
    expect(await deliver(three('can-commit'), id, 1)).toEqual({ kind: 'refused' });
    expect(await deliver(three('pre-commit'), id, 1)).toEqual({ kind: 'refused' });
    expect(await valueOf(id)).toBe(0);
  });

  it('rolls the barrier row back with the work when the work throws, so a retry applies', async () => {
    const id = await counter();
    const { action } = calls();
    const failing = barrier.run(pool, action, async (client) => {
      await client.query('UPDATE counters SET n = n + 1 WHERE id = $1', [id]);
      throw new Error('boom');
    });
    await expect(failing).rejects.toThrow('boom');
    expect(await valueOf(id)).toBe(0);
    const { rows } = await pool.query('SELECT 1 FROM test_barrier WHERE transaction_id = $1', [action.transactionId]);
    expect(rows).toHaveLength(0);
    expect(await deliver(action, id, 1)).toEqual({ kind: 'applied', value: 1 });
    expect(await valueOf(id)).toBe(1);
  });

  it('applies exactly once under 20 concurrent duplicate deliveries', async () => {
    const id = await counter();
    const { action } = calls();
    const results = await Promise.all(Array.from({ length: 20 }, () => deliver(action, id, 3)));
    const kinds = results.map((r) => r.kind);
    expect(kinds.filter((k) => k === 'applied')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'duplicate')).toHaveLength(19);
    expect(await valueOf(id)).toBe(3);
  });

  it('lets exactly one of a racing action and compensate win, never both effects half-applied', async () => {
    for (let round = 0; round < 10; round++) {
      const id = await counter();
      const { action, compensate } = calls();
      const [a, c] = await Promise.all([deliver(action, id, 4), deliver(compensate, id, -4)]);
      const outcome = `${a.kind}/${c.kind}`;
      expect(['applied/applied', 'refused/null-compensation']).toContain(outcome);
      expect(await valueOf(id)).toBe(0);
    }
  });

  describe('the two completions of one branch (TCC confirm / cancel, 2PC commit / rollback)', () => {
    const tcc = () => {
      const transactionId = randomUUID();
      const of = (phase: Phase): BarrierCall => ({ transactionId, branchId: 'b1', phase });
      return { attempt: of(Phase.Try), confirm: of(Phase.Confirm), cancel: of(Phase.Cancel) };
    };

    it('refuses a cancel after the confirm applied, and a confirm after the cancel', async () => {
      const id = await counter();
      const one = tcc();
      expect((await deliver(one.attempt, id, 1)).kind).toBe('applied');
      expect((await deliver(one.confirm, id, 10)).kind).toBe('applied');
      expect((await deliver(one.cancel, id, -1)).kind).toBe('refused');
      expect((await deliver(one.confirm, id, 10)).kind).toBe('duplicate');
      const two = tcc();
      expect((await deliver(two.attempt, id, 1)).kind).toBe('applied');
      expect((await deliver(two.cancel, id, -1)).kind).toBe('applied');
      expect((await deliver(two.confirm, id, 10)).kind).toBe('refused');
      expect(await valueOf(id)).toBe(11);
    });

    it('refuses a confirm after a null cancel (the cancel came before its try)', async () => {
      const id = await counter();
      const { attempt, confirm, cancel } = tcc();
      expect((await deliver(cancel, id, -1)).kind).toBe('null-compensation');
      expect((await deliver(attempt, id, 1)).kind).toBe('refused');
      expect((await deliver(confirm, id, 10)).kind).toBe('refused');
      expect(await valueOf(id)).toBe(0);
    });

    it('refuses a try delivered after its confirm (reordered): no reservation is left behind', async () => {
      const id = await counter();
      const { attempt, confirm } = tcc();
      // the coordinator confirms only after the try's yes; a confirm first is a reordered delivery
      // (or a try mapped to null, which is never sent): it applies, and the try can no longer
      expect((await deliver(confirm, id, 10)).kind).toBe('applied');
      expect((await deliver(attempt, id, 1)).kind).toBe('refused');
      expect((await deliver(confirm, id, 10)).kind).toBe('duplicate');
      expect(await valueOf(id)).toBe(10);
    });

    it('lets exactly one of a racing confirm and cancel apply', async () => {
      for (let round = 0; round < 10; round++) {
        const id = await counter();
        const { attempt, confirm, cancel } = tcc();
        await deliver(attempt, id, 1);
        const kinds = (await Promise.all([deliver(confirm, id, 10), deliver(cancel, id, -1)])).map((r) => r.kind);
        expect(kinds.sort()).toEqual(['applied', 'refused']);
        expect([0, 11]).toContain(await valueOf(id));
      }
    });
  });

  it('keeps branches and phases of one transaction apart', async () => {
    const id = await counter();
    const transactionId = randomUUID();
    expect((await deliver({ transactionId, branchId: 'x', phase: 'try' }, id, 1)).kind).toBe('applied');
    expect((await deliver({ transactionId, branchId: 'y', phase: 'try' }, id, 1)).kind).toBe('applied');
    expect((await deliver({ transactionId, branchId: 'x', phase: 'confirm' }, id, 1)).kind).toBe('applied');
    expect((await deliver({ transactionId, branchId: 'y', phase: 'cancel' }, id, -1)).kind).toBe('applied');
    expect((await deliver({ transactionId, branchId: 'z', phase: 'rollback' }, id, -1)).kind).toBe('null-compensation');
    expect((await deliver({ transactionId, branchId: 'z', phase: 'prepare' }, id, 1)).kind).toBe('refused');
    expect(await valueOf(id)).toBe(2);
  });

  /** The work of a forward phase that says no while the counter would go below zero. */
  function deliverUnlessNegative(call: BarrierCall, id: string, by: number) {
    return barrier.run(pool, call, async (client) => {
      const { rows } = await client.query<{ n: number }>('UPDATE counters SET n = n + $2 WHERE id = $1 RETURNING n', [
        id,
        by,
      ]);
      if (rows[0].n < 0) throw new BusinessRejection('would go below zero', { n: rows[0].n });
      return rows[0].n;
    });
  }

  it("keeps a forward phase's no: the same phase delivered again late changes nothing", async () => {
    const id = await counter();
    const { action, compensate } = calls();
    // the first delivery says no (nothing to take), and its work is undone
    await expect(deliverUnlessNegative(action, id, -5)).rejects.toThrow(BusinessRejection);
    expect(await valueOf(id)).toBe(0);
    // meanwhile the business state changes: the same action would now succeed
    await pool.query('UPDATE counters SET n = 10 WHERE id = $1', [id]);
    // a late delivery of the same phase (a slow first attempt, a dead owner's call) is refused again
    const late = deliverUnlessNegative(action, id, -5);
    await expect(late).rejects.toThrow(/refused at an earlier delivery/);
    await expect(late).rejects.toBeInstanceOf(BusinessRejection);
    expect(await valueOf(id)).toBe(10);
    // and its undo, should one come, is a null compensation: nothing was applied to undo
    expect(await deliver(compensate, id, 5)).toEqual({ kind: 'null-compensation' });
    expect(await valueOf(id)).toBe(10);
  });

  it('answers every concurrent delivery of a forward phase the same: one no for all', async () => {
    const id = await counter();
    const { action } = calls();
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => deliverUnlessNegative(action, id, -1)));
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof BusinessRejection)).toBe(true);
    expect(await valueOf(id)).toBe(0);
  });

  it("returns a rejection inside a caller's transaction, for the caller to commit", async () => {
    const id = await counter();
    const { action } = calls();
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const r = await barrier.runInTransaction(client, action, async () => {
        throw new BusinessRejection('no stock');
      });
      expect(r).toEqual({ kind: 'rejected', reason: 'no stock', details: undefined });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await expect(deliver(action, id, 1)).rejects.toThrow(BusinessRejection);
    expect(await valueOf(id)).toBe(0);
  });

  it('refuses unsafe table names', () => {
    expect(() => new Barrier('x; DROP TABLE y')).toThrow(TypeError);
    expect(Barrier.ddl('app.barrier')).toContain('PRIMARY KEY (transaction_id, branch_id, op)');
  });
});
