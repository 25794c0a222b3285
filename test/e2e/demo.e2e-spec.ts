import { Pool } from 'pg';
import { freshDatabase, startTestStack, type FreshDatabase, type TestStack } from '#testing';
import { startDemoProcess, type RunningDemo } from './demo-process';

const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

describe('the demo as the README runs it: accounts and inventory over HTTP, shipping over NATS', () => {
  // unique per run: the subjects txn.<name>.<phase> are what keep parallel runs on one NATS apart
  const shipping = `shipping-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let s: TestStack;
  let demoDb: FreshDatabase;
  let db: Pool;
  let demo: RunningDemo;

  beforeAll(async () => {
    s = await startTestStack('demo_e2e', { env: { CALL_TIMEOUT_MS: '3000' } });
    demoDb = await freshDatabase('demo_e2e_services');
    demo = await startDemoProcess({
      DEMO_DATABASE_URL: demoDb.url,
      COORDINATOR_URL: s.api.base,
      DEMO_NATS_URL: NATS_URL,
      DEMO_SHIPPING_NAME: shipping,
    });
    db = new Pool({ connectionString: demoDb.url, max: 2 });
    db.on('error', () => undefined);
  });

  afterAll(async () => {
    if (demo && demo.child.exitCode === null) {
      const exited = new Promise((done) => demo.child.once('exit', done));
      demo.child.kill('SIGTERM');
      await exited;
    }
    await db?.end();
    await s?.close();
    await demoDb?.drop();
  });

  async function balances(): Promise<Record<string, number>> {
    const body = (await (await fetch(`${demo.accountsUrl}/accounts`)).json()) as {
      items: { id: string; balance: number }[];
    };
    return Object.fromEntries(body.items.map((a) => [a.id, a.balance]));
  }

  async function stock(sku: string): Promise<number> {
    const body = (await (await fetch(`${demo.inventoryUrl}/stock`)).json()) as {
      items: { sku: string; available: number }[];
    };
    return body.items.find((i) => i.sku === sku)!.available;
  }

  async function shipments(transactionId: string): Promise<string[]> {
    const { rows } = await db.query<{ branch_id: string; status: string }>(
      'SELECT branch_id, status FROM demo_shipments WHERE transaction_id = $1 ORDER BY branch_id',
      [transactionId],
    );
    return rows.map((r) => `${r.branch_id}:${r.status}`);
  }

  const order = (protocol: string, quantity: number) => ({
    protocol,
    branches: [
      { id: 'pay', participant: 'accounts', payload: { account: 'C', delta: -10 * quantity } },
      { id: 'reserve', participant: 'inventory', payload: { sku: 'gadget', quantity } },
      { id: 'ship', participant: shipping, payload: { sku: 'gadget', quantity, address: '1 Quay St' } },
    ],
  });

  it('registers the three services, shipping with transport nats', async () => {
    const list = await s.api.get('/v1/participants');
    const byName = Object.fromEntries(
      (list.body.items as { name: string; transport: string; url: string }[]).map((p) => [p.name, p]),
    );
    expect(byName.accounts).toMatchObject({ transport: 'http', url: `${demo.accountsUrl}/` });
    expect(byName.inventory).toMatchObject({ transport: 'http', url: `${demo.inventoryUrl}/` });
    expect(byName[shipping]).toMatchObject({ transport: 'nats', url: new URL(NATS_URL).href });
  });

  it("runs the README's transfer: two saga steps at accounts", async () => {
    const before = await balances();
    const r = await s.api.post('/v1/transactions?wait=10000', {
      protocol: 'saga',
      branches: [
        { id: 'debit', participant: 'accounts', payload: { account: 'A', delta: -100 } },
        { id: 'credit', participant: 'accounts', payload: { account: 'B', delta: 100 } },
      ],
    });
    expect(r.body.status).toBe('committed');
    const after = await balances();
    expect([after.A - before.A, after.B - before.B]).toEqual([-100, 100]);
  });

  it.each(['saga', 'tcc'])('%s: pays, takes stock and schedules a shipment over NATS', async (protocol) => {
    const [before, gadgets] = [await balances(), await stock('gadget')];
    const r = await s.api.post('/v1/transactions?wait=15000', order(protocol, 2));
    expect(r.body.status).toBe('committed');
    expect((await balances()).C - before.C).toBe(-20);
    expect(gadgets - (await stock('gadget'))).toBe(2);
    expect(await shipments(r.body.id)).toEqual(['ship:scheduled']);
    const ship = (r.body.branches as { id: string; result: { result: { status: string } } }[]).find(
      (b) => b.id === 'ship',
    )!;
    expect(ship.result.result.status).toBe(protocol === 'saga' ? 'scheduled' : 'reserved');
  });

  it.each(['saga', 'tcc'])(
    '%s: shipping says no to an oversized parcel (409 over NATS), payment and stock are given back',
    async (protocol) => {
      const [before, gadgets] = [await balances(), await stock('gadget')];
      const r = await s.api.post('/v1/transactions?wait=15000', order(protocol, 60));
      expect(r.body.status).toBe('aborted');
      expect(JSON.stringify(r.body.events)).toContain('a parcel holds at most 50 items');
      expect((await balances()).C).toBe(before.C);
      expect(await stock('gadget')).toBe(gadgets);
      // the refused action wrote nothing; the barrier keeps its no
      expect(await shipments(r.body.id)).toEqual([]);
    },
  );
});
