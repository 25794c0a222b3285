// the build config (tsconfig.build.json) compiles *.int-spec.ts with types ["node"] only
import { randomUUID } from 'node:crypto';
import { freshDatabase, type FreshDatabase } from '#testing';
import { signBody } from '#participant';
import { startDemo, type Demo } from './start-demo';

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function send(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const raw = body === undefined ? undefined : JSON.stringify(body);
  const response = await fetch(url, {
    method,
    headers: raw === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: raw,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

/** A participant-contract call body for one phase. */
function callBody(transactionId: string, branchId: string, protocol: string, phase: string, payload: unknown) {
  return {
    transactionId,
    branchId,
    protocol,
    phase,
    attempt: 1,
    deadline: new Date(Date.now() + 30_000).toISOString(),
    payload,
  };
}

describe('demo participants over HTTP (real Postgres)', () => {
  let db: FreshDatabase;
  let demo: Demo;

  beforeAll(async () => {
    db = await freshDatabase('demo');
    demo = await startDemo({ databaseUrl: db.url, accountsPort: 0, inventoryPort: 0, poolSize: 8 });
  });

  afterAll(async () => {
    await demo?.close();
    await db?.drop();
  });

  afterEach(async () => {
    await send('DELETE', `${demo.accountsUrl}/_faults`);
    await send('DELETE', `${demo.inventoryUrl}/_faults`);
  });

  /** A new account with `balance`, so tests never share rows. */
  async function account(balance: number): Promise<string> {
    const id = `acct-${randomUUID()}`;
    expect((await send('PUT', `${demo.accountsUrl}/accounts/${id}`, { balance })).status).toBe(200);
    return id;
  }

  async function balanceOf(id: string): Promise<number> {
    const { body } = await send('GET', `${demo.accountsUrl}/accounts`);
    const item = (body.items as { id: string; balance: number }[]).find((i) => i.id === id);
    return item!.balance;
  }

  function saga(phase: 'action' | 'compensate', transactionId: string, branchId: string, payload: unknown) {
    return send('POST', `${demo.accountsUrl}/saga/${phase}`, callBody(transactionId, branchId, 'saga', phase, payload));
  }

  it('seeds the demo rows', async () => {
    const accounts = await send('GET', `${demo.accountsUrl}/accounts`);
    expect(accounts.body.items).toEqual(
      expect.arrayContaining([
        { id: 'A', balance: 1000 },
        { id: 'B', balance: 1000 },
        { id: 'C', balance: 1000 },
      ]),
    );
    const stock = await send('GET', `${demo.inventoryUrl}/stock`);
    expect(stock.body).toEqual({
      items: [
        { sku: 'gadget', available: 100 },
        { sku: 'widget', available: 100 },
      ],
      total: 200,
    });
  });

  it('applies an action once under 3 duplicate deliveries, and compensate reverses it', async () => {
    const id = await account(500);
    const tx = randomUUID();
    const answers = await Promise.all([1, 2, 3].map(() => saga('action', tx, 'debit', { account: id, delta: -200 })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(answers.map((a) => a.body.kind).sort()).toEqual(['applied', 'duplicate', 'duplicate']);
    expect(answers.find((a) => a.body.kind === 'applied')!.body).toEqual({ kind: 'applied', result: { balance: 300 } });
    expect(await balanceOf(id)).toBe(300);

    const compensations = [];
    for (let i = 0; i < 3; i++) compensations.push(await saga('compensate', tx, 'debit', { account: id, delta: -200 }));
    expect(compensations.map((a) => a.body.kind)).toEqual(['applied', 'duplicate', 'duplicate']);
    expect(await balanceOf(id)).toBe(500);
  });

  it('treats compensate before action as a null compensation and answers the late action 409', async () => {
    const id = await account(500);
    const tx = randomUUID();
    const early = await saga('compensate', tx, 'debit', { account: id, delta: -200 });
    expect(early).toEqual({ status: 200, body: { kind: 'null-compensation' } });
    const late = await saga('action', tx, 'debit', { account: id, delta: -200 });
    expect(late.status).toBe(409);
    expect(late.body.kind).toBe('refused');
    expect(await balanceOf(id)).toBe(500);
  });

  it('rejects an insufficient balance or unknown account with 409 and changes nothing', async () => {
    const id = await account(100);
    const before = await send('GET', `${demo.accountsUrl}/accounts`);
    const poor = await saga('action', randomUUID(), 'debit', { account: id, delta: -101 });
    expect(poor.status).toBe(409);
    expect(poor.body.detail).toMatch(/insufficient balance/);
    const unknown = await saga('action', randomUUID(), 'debit', { account: 'nobody', delta: 1 });
    expect(unknown.status).toBe(409);
    expect(unknown.body.detail).toMatch(/unknown account/);
    expect(await send('GET', `${demo.accountsUrl}/accounts`)).toEqual(before);
  });

  it("applies the effect but answers 500 under an 'after' fault; the retry is a duplicate", async () => {
    const id = await account(100);
    const tx = randomUUID();
    const armed = await send('POST', `${demo.accountsUrl}/_faults`, {
      phase: 'action',
      branchId: 'credit',
      status: 500,
      times: 1,
      when: 'after',
    });
    expect(armed.status).toBe(200);
    const lost = await saga('action', tx, 'credit', { account: id, delta: 50 });
    expect(lost.status).toBe(500);
    expect(await balanceOf(id)).toBe(150);
    const retry = await saga('action', tx, 'credit', { account: id, delta: 50 });
    expect(retry).toEqual({ status: 200, body: { kind: 'duplicate' } });
    expect(await balanceOf(id)).toBe(150);
  });

  it("answers a 'before' fault without the effect, for the given number of times, and counts calls", async () => {
    const id = await account(100);
    const tx = randomUUID();
    await send('POST', `${demo.accountsUrl}/_faults`, {
      branchId: 'b',
      status: 503,
      times: 2,
      when: 'before',
      delayMs: 20,
    });
    const statsBefore = (await send('GET', `${demo.accountsUrl}/_stats`)).body;
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await saga('action', tx, 'b', { account: id, delta: 1 })).status);
    expect(statuses).toEqual([503, 503, 200]);
    expect(await balanceOf(id)).toBe(101);
    const stats = (await send('GET', `${demo.accountsUrl}/_stats`)).body as Record<string, number> & {
      byPhase: Record<string, number>;
    };
    expect(stats.calls - (statsBefore.calls as number)).toBe(3);
    expect(stats.applied - (statsBefore.applied as number)).toBe(1);
    expect(stats.byPhase.action).toBeGreaterThanOrEqual(3);
  });

  it('conserves the total across accounts after an action + compensate pair', async () => {
    const from = await account(1000);
    const to = await account(1000);
    const total = async () => (await send('GET', `${demo.accountsUrl}/accounts`)).body.total as number;
    const start = await total();
    const tx = randomUUID();
    expect((await saga('action', tx, 'debit', { account: from, delta: -300 })).status).toBe(200);
    expect((await saga('action', tx, 'credit', { account: to, delta: 300 })).status).toBe(200);
    expect(await total()).toBe(start);
    expect((await saga('compensate', tx, 'credit', { account: to, delta: 300 })).status).toBe(200);
    expect((await saga('compensate', tx, 'debit', { account: from, delta: -300 })).status).toBe(200);
    expect(await total()).toBe(start);
    expect([await balanceOf(from), await balanceOf(to)]).toEqual([1000, 1000]);
  });

  it('takes and returns stock in the inventory service', async () => {
    const sku = `sku-${randomUUID()}`;
    expect((await send('PUT', `${demo.inventoryUrl}/stock/${sku}`, { available: 5 })).status).toBe(200);
    const tx = randomUUID();
    const body = (phase: string, quantity: number) => callBody(tx, 'reserve', 'saga', phase, { sku, quantity });
    const taken = await send('POST', `${demo.inventoryUrl}/saga/action`, body('action', 3));
    expect(taken.body).toEqual({ kind: 'applied', result: { available: 2 } });
    const tooMany = await send('POST', `${demo.inventoryUrl}/saga/action`, {
      ...body('action', 3),
      transactionId: randomUUID(),
    });
    expect(tooMany.status).toBe(409);
    const back = await send('POST', `${demo.inventoryUrl}/saga/compensate`, body('compensate', 3));
    expect(back.body).toEqual({ kind: 'applied', result: { available: 5 } });
  });

  it('holds on TCC try, applies on confirm and releases on cancel', async () => {
    const id = await account(100);
    const tcc = (phase: string, tx: string) =>
      send('POST', `${demo.accountsUrl}/tcc/${phase}`, callBody(tx, 'pay', 'tcc', phase, { account: id, delta: -60 }));
    const confirmed = randomUUID();
    expect((await tcc('try', confirmed)).body).toEqual({ kind: 'applied', result: { balance: 40 } });
    expect((await tcc('try', randomUUID())).status).toBe(409);
    expect((await tcc('confirm', confirmed)).body).toEqual({ kind: 'applied', result: { balance: 40 } });
    expect((await tcc('confirm', confirmed)).body.kind).toBe('duplicate');
    const cancelled = randomUUID();
    await send('PUT', `${demo.accountsUrl}/accounts/${id}`, { balance: 100 });
    expect((await tcc('try', cancelled)).body).toEqual({ kind: 'applied', result: { balance: 40 } });
    expect((await tcc('cancel', cancelled)).body).toEqual({ kind: 'applied', result: { balance: 100 } });
    expect((await tcc('cancel', cancelled)).body.kind).toBe('duplicate');
    expect(await balanceOf(id)).toBe(100);
  });

  it('answers a malformed envelope 422 and malformed JSON 400', async () => {
    const bad = await send('POST', `${demo.accountsUrl}/saga/action`, { branchId: 'x', payload: {} });
    expect(bad.status).toBe(422);
    const response = await fetch(`${demo.accountsUrl}/saga/action`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(response.status).toBe(400);
  });

  it('verifies Txn-Signature when a secret is set', async () => {
    const secret = 'a-demo-secret-of-some-length';
    const signed = await startDemo({ databaseUrl: db.url, seed: false, secret, poolSize: 2 });
    try {
      const id = await account(10);
      const raw = JSON.stringify(callBody(randomUUID(), 'b', 'saga', 'action', { account: id, delta: 1 }));
      const post = (headers: Record<string, string>) =>
        fetch(`${signed.accountsUrl}/saga/action`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: raw,
        });
      expect((await post({})).status).toBe(401);
      expect((await post({ 'txn-signature': signBody('wrong-secret-wrong-secret', raw) })).status).toBe(401);
      expect(
        (await post({ 'txn-signature': signBody(secret, raw, Math.floor(Date.now() / 1000) - 3600) })).status,
      ).toBe(401);
      expect((await post({ 'txn-signature': signBody(secret, raw) })).status).toBe(200);
      expect(await balanceOf(id)).toBe(11);
    } finally {
      await signed.close();
    }
  });
});
