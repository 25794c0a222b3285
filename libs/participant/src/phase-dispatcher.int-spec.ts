// the build config (tsconfig.build.json) compiles *.int-spec.ts with types ["node"] only
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import { Phase } from '#contracts';
import { freshDatabase, type FreshDatabase } from '#testing';
import { Barrier } from './barrier';
import { BusinessRejection } from './business-rejection';
import { HandlerRegistry } from './handler-registry';
import { PhaseDispatcher, type PhaseDelivery } from './phase-dispatcher';
import type { PhaseKey } from './phase-route';
import { signBody } from './signature';

const SECRET = 'a-secret-of-sixteen-or-more';

describe('PhaseDispatcher (real Postgres, TypeORM)', () => {
  let db: FreshDatabase;
  let dataSource: DataSource;
  const barrier = new Barrier('sdk_barrier');
  const failures: unknown[] = [];
  let failNext = 0;

  /** Moves `delta` into the account; says no when the balance would go below zero. */
  async function move(manager: EntityManager, account: string, delta: number) {
    if (failNext > 0) {
      failNext -= 1;
      await manager.query('UPDATE balances SET amount = amount + $2 WHERE id = $1', [account, delta]);
      throw new Error('database hiccup');
    }
    // TypeORM answers an UPDATE with [rows, affected]
    const [rows]: [{ amount: number }[], number] = await manager.query(
      'UPDATE balances SET amount = amount + $2 WHERE id = $1 RETURNING amount',
      [account, delta],
    );
    if (rows[0].amount < 0) throw new BusinessRejection('insufficient funds', { account });
    return { amount: rows[0].amount };
  }

  const registry = new HandlerRegistry()
    .register({ phase: Phase.Action, name: 'debit' }, ({ payload, manager }) => {
      const p = payload as { account: string; amount: number };
      return move(manager, p.account, -p.amount);
    })
    .register({ phase: Phase.Compensate, name: 'debit' }, ({ payload, manager }) => {
      const p = payload as { account: string; amount: number };
      return move(manager, p.account, p.amount);
    })
    .register({ phase: Phase.Action, name: 'swallow' }, async ({ payload, manager }) => {
      const p = payload as { account: string; amount: number };
      await move(manager, p.account, -p.amount);
      // an error caught and ignored ("a unique violation is fine"): Postgres aborted the transaction all the same
      await manager.query('SELECT 1/0').catch(() => undefined);
      return { ok: true };
    })
    .register({ phase: Phase.Try }, ({ payload, manager }) => {
      const p = payload as { account: string; amount: number };
      return move(manager, p.account, -p.amount);
    })
    .register({ phase: Phase.Cancel }, async ({ payload, manager }) => {
      const p = payload as { account: string; amount: number };
      await move(manager, p.account, p.amount);
    });

  beforeAll(async () => {
    db = await freshDatabase('sdk_dispatch');
    dataSource = new DataSource({ type: 'postgres', url: db.url, poolSize: 8 });
    await dataSource.initialize();
    await barrier.install(dataSource);
    await dataSource.query('CREATE TABLE balances (id text PRIMARY KEY, amount integer NOT NULL)');
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  function dispatcher(secret?: string) {
    return new PhaseDispatcher({ registry, dataSource, barrier, secret, onError: (e) => failures.push(e) });
  }

  async function account(amount: number): Promise<string> {
    const id = randomUUID();
    await dataSource.query('INSERT INTO balances (id, amount) VALUES ($1, $2)', [id, amount]);
    return id;
  }

  async function balance(id: string): Promise<number> {
    const rows: { amount: number }[] = await dataSource.query('SELECT amount FROM balances WHERE id = $1', [id]);
    return rows[0].amount;
  }

  async function barrierRows(transactionId: string): Promise<number> {
    const rows: unknown[] = await dataSource.query('SELECT 1 FROM sdk_barrier WHERE transaction_id = $1', [
      transactionId,
    ]);
    return rows.length;
  }

  /** A delivery of `phase` as the coordinator sends it (signed when `secret` is given). */
  function delivery(
    transactionId: string,
    phase: Phase,
    payload: unknown,
    secret?: string,
  ): PhaseDelivery & { rawBody: string } {
    const protocol = phase === Phase.Action || phase === Phase.Compensate ? 'saga' : 'tcc';
    const body = { transactionId, branchId: 'b1', protocol, phase, attempt: 1, payload };
    const rawBody = JSON.stringify(body);
    const headers: PhaseDelivery['headers'] = { 'idempotency-key': `${transactionId}/b1/${phase}` };
    if (secret) headers['txn-signature'] = signBody(secret, rawBody);
    return { body, rawBody, headers };
  }

  const debit: PhaseKey = { phase: Phase.Action, name: 'debit' };
  const undoDebit: PhaseKey = { phase: Phase.Compensate, name: 'debit' };

  it('applies a duplicated delivery once and answers every repeat yes', async () => {
    const id = await account(100);
    const tx = randomUUID();
    const d = dispatcher();
    const first = await d.dispatch(debit, delivery(tx, Phase.Action, { account: id, amount: 30 }));
    expect(first).toMatchObject({ status: 200, body: { kind: 'applied', result: { amount: 70 } } });
    expect(first.headers['content-type']).toBe('application/json');
    const again = await d.dispatch(debit, delivery(tx, Phase.Action, { account: id, amount: 30 }));
    expect(again).toMatchObject({ status: 200, body: { kind: 'duplicate' } });
    const concurrent = await Promise.all(
      [1, 2, 3, 4].map(() => d.dispatch(debit, delivery(tx, Phase.Action, { account: id, amount: 30 }))),
    );
    expect(concurrent.map((r) => [r.status, (r.body as { kind: string }).kind])).toEqual(
      Array(4).fill([200, 'duplicate']),
    );
    expect(await balance(id)).toBe(70);
  });

  it('answers an undo before its forward phase as a null undo, and refuses the late forward phase', async () => {
    const id = await account(100);
    const tx = randomUUID();
    const d = dispatcher();
    const undo = await d.dispatch(undoDebit, delivery(tx, Phase.Compensate, { account: id, amount: 30 }));
    expect(undo).toMatchObject({ status: 200, body: { kind: 'null-compensation' } });
    const late = await d.dispatch(debit, delivery(tx, Phase.Action, { account: id, amount: 30 }));
    expect(late).toMatchObject({ status: 409, body: { kind: 'refused', status: 409 } });
    expect(late.headers['content-type']).toBe('application/problem+json');
    expect(await balance(id)).toBe(100);
  });

  it('answers a BusinessRejection 409 with its reason, undoes the work and keeps the no for later deliveries', async () => {
    const id = await account(10);
    const tx = randomUUID();
    const d = dispatcher();
    const no = await d.dispatch(debit, delivery(tx, Phase.Action, { account: id, amount: 30 }));
    expect(no).toMatchObject({
      status: 409,
      headers: { 'content-type': 'application/problem+json' },
      body: {
        type: '/problems/business_rejection',
        detail: 'insufficient funds',
        kind: 'rejected',
        details: { account: id },
      },
    });
    expect(await balance(id)).toBe(10);
    // the account is topped up: the same delivery would now succeed, but the first answer stands
    await dataSource.query('UPDATE balances SET amount = 100 WHERE id = $1', [id]);
    const late = await d.dispatch(debit, delivery(tx, Phase.Action, { account: id, amount: 30 }));
    expect(late).toMatchObject({ status: 409, body: { kind: 'rejected' } });
    const undo = await d.dispatch(undoDebit, delivery(tx, Phase.Compensate, { account: id, amount: 30 }));
    expect(undo).toMatchObject({ status: 200, body: { kind: 'null-compensation' } });
    expect(await balance(id)).toBe(100);
  });

  it('answers any other error 500 with nothing applied, so the retry applies', async () => {
    const id = await account(100);
    const tx = randomUUID();
    const d = dispatcher();
    failNext = 1;
    const failed = await d.dispatch({ phase: Phase.Try }, delivery(tx, Phase.Try, { account: id, amount: 5 }));
    expect(failed).toMatchObject({ status: 500, body: { detail: 'database hiccup' } });
    expect(failures.at(-1)).toEqual(new Error('database hiccup'));
    expect(await balance(id)).toBe(100);
    expect(await barrierRows(tx)).toBe(0);
    const retried = await d.dispatch({ phase: Phase.Try }, delivery(tx, Phase.Try, { account: id, amount: 5 }));
    expect(retried).toMatchObject({ status: 200, body: { kind: 'applied' } });
    const cancel = await d.dispatch({ phase: Phase.Cancel }, delivery(tx, Phase.Cancel, { account: id, amount: 5 }));
    // a handler that returns nothing answers a bare verdict
    expect(cancel).toEqual({ status: 200, headers: { 'content-type': 'application/json' }, body: { kind: 'applied' } });
    expect(await balance(id)).toBe(100);
  });

  it('answers 500, not applied, when a statement of the handler failed and its error was caught', async () => {
    const id = await account(100);
    const tx = randomUUID();
    const d = dispatcher();
    const swallow: PhaseKey = { phase: Phase.Action, name: 'swallow' };
    const answer = await d.dispatch(swallow, delivery(tx, Phase.Action, { account: id, amount: 30 }));
    expect(answer).toMatchObject({ status: 500, body: { detail: expect.stringMatching(/rolled back/) } });
    expect(await balance(id)).toBe(100);
    expect(await barrierRows(tx)).toBe(0);
  });

  it('with a secret, refuses a missing or wrong Txn-Signature 401 before touching anything', async () => {
    const id = await account(100);
    const tx = randomUUID();
    const d = dispatcher(SECRET);
    const unsigned = await d.dispatch(debit, delivery(tx, Phase.Action, { account: id, amount: 1 }));
    expect(unsigned).toMatchObject({
      status: 401,
      headers: { 'content-type': 'application/problem+json' },
      body: { type: '/problems/invalid_signature' },
    });
    const wrongKey = await d.dispatch(
      debit,
      delivery(tx, Phase.Action, { account: id, amount: 1 }, 'another-secret-16+'),
    );
    expect(wrongKey.status).toBe(401);
    // signed, then the body changed on the way: the signature covers the exact bytes
    const tampered = delivery(tx, Phase.Action, { account: id, amount: 1 }, SECRET);
    const forged = { ...tampered, rawBody: tampered.rawBody.replace('"amount":1', '"amount":99') };
    expect((await d.dispatch(debit, forged)).status).toBe(401);
    expect(await balance(id)).toBe(100);
    expect(await barrierRows(tx)).toBe(0);
    const signed = await d.dispatch(debit, delivery(tx, Phase.Action, { account: id, amount: 1 }, SECRET));
    expect(signed).toMatchObject({ status: 200, body: { kind: 'applied' } });
    expect(await balance(id)).toBe(99);
  });

  it('refuses a stale signature (a replayed capture)', async () => {
    const id = await account(100);
    const tx = randomUUID();
    const d = new PhaseDispatcher({ registry, dataSource, barrier, secret: SECRET, now: () => Date.now() + 600_000 });
    expect((await d.dispatch(debit, delivery(tx, Phase.Action, { account: id, amount: 1 }, SECRET))).status).toBe(401);
    expect(await balance(id)).toBe(100);
  });

  it('answers a malformed envelope 400 and an unknown route 404, both retried and neither applied', async () => {
    const d = dispatcher();
    const tx = randomUUID();
    const noBranch = { body: { transactionId: tx, phase: 'action' }, rawBody: '', headers: {} };
    expect(await d.dispatch(debit, noBranch)).toMatchObject({ status: 400, body: { detail: /branchId/ } });
    const wrongPhase = delivery(tx, Phase.Compensate, {});
    expect(await d.dispatch(debit, wrongPhase)).toMatchObject({ status: 400, body: { detail: /phase/ } });
    expect(await d.dispatch({ phase: Phase.Prepare }, delivery(tx, Phase.Prepare, {}))).toMatchObject({ status: 404 });
    expect(await barrierRows(tx)).toBe(0);
  });

  it('answers a check of another protocol 400 without asking the outbox (no marker written)', async () => {
    const asked: string[] = [];
    const outbox = { check: async (id: string) => (asked.push(id), { state: 'rolledback' as const }) };
    const d = new PhaseDispatcher({ registry, dataSource, barrier, outbox });
    const check = (protocol: string) => ({
      body: { transactionId: 'chk-1', protocol, phase: 'check', attempt: 1, payload: null },
      rawBody: '',
      headers: {},
    });
    expect(await d.dispatch({ phase: Phase.Check }, check('saga'))).toMatchObject({ status: 400 });
    expect(asked).toEqual([]);
    expect(await d.dispatch({ phase: Phase.Check }, check('msg'))).toMatchObject({ status: 200 });
    expect(asked).toEqual(['chk-1']);
  });
});
