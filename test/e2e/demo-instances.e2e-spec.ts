import { freshDatabase, startTestStack, type FreshDatabase, type TestStack } from '#testing';
import { startDemoProcess, type RunningDemo } from './demo-process';

/**
 * The README's "two instances" walkthrough: two demo processes on one database register as two
 * instances of `accounts`; one is killed (SIGKILL) in the middle of a stream of transfers. Nothing a
 * user sees changes but the participants page: every transfer commits, each applied once (the total
 * is conserved and A lost exactly what was sent), and the killed instance shows `expired` once its
 * lease lapses while the other stays `up`.
 */
describe('the demo with two instances of each service, one killed under load', () => {
  let s: TestStack;
  let demoDb: FreshDatabase;
  let first: RunningDemo;
  let second: RunningDemo;

  beforeAll(async () => {
    s = await startTestStack('demo_instances', { env: { CALL_TIMEOUT_MS: '3000' } });
    demoDb = await freshDatabase('demo_instances_services');
    const env = {
      DEMO_DATABASE_URL: demoDb.url,
      COORDINATOR_URL: s.api.base,
      DEMO_NATS_URL: 'off',
      DEMO_LEASE_SECONDS: '3',
    };
    first = await startDemoProcess(env);
    second = await startDemoProcess(env);
  });

  afterAll(async () => {
    for (const demo of [first, second]) {
      if (demo && demo.child.exitCode === null && demo.child.signalCode === null) {
        const exited = new Promise((done) => demo.child.once('exit', done));
        demo.child.kill('SIGTERM');
        await exited;
      }
    }
    await s?.close();
    await demoDb?.drop();
  });

  async function balances(): Promise<Record<string, number>> {
    const body = (await (await fetch(`${first.accountsUrl}/accounts`)).json()) as {
      items: { id: string; balance: number }[];
    };
    return Object.fromEntries(body.items.map((a) => [a.id, a.balance]));
  }

  const instanceOf = (view: any, demo: RunningDemo) =>
    view.instances.find((i: any) => i.url === `${demo.accountsUrl}/`);

  it('commits every transfer exactly once while an instance dies, and shows it expired', async () => {
    const accounts = (await s.api.get('/v1/participants/accounts')).body;
    expect(accounts.instances).toHaveLength(2);
    expect(instanceOf(accounts, first).status).toBe('up');
    expect(instanceOf(accounts, second).status).toBe('up');

    const before = await balances();
    const transfers = 60;
    let started = 0;
    const statuses: string[] = [];
    // eight clients, each sending transfers one after another; the second instance dies after 15
    const client = async () => {
      while (started < transfers) {
        const n = started++;
        if (n === 15) second.child.kill('SIGKILL');
        const r = await s.api.post('/v1/transactions?wait=60000', {
          protocol: 'saga',
          timeoutMs: 60_000,
          branches: [
            { id: 'debit', participant: 'accounts', payload: { account: 'A', delta: -1 } },
            { id: 'credit', participant: 'accounts', payload: { account: 'B', delta: 1 } },
          ],
        });
        statuses.push(r.body.status);
      }
    };
    await Promise.all(Array.from({ length: 8 }, client));

    expect(statuses).toEqual(Array(transfers).fill('committed'));
    const after = await balances();
    expect(after.A).toBe(before.A - transfers);
    expect(after.B).toBe(before.B + transfers);
    expect(Object.values(after).reduce((a, b) => a + b, 0)).toBe(Object.values(before).reduce((a, b) => a + b, 0));

    let view: any = null;
    for (let i = 0; i < 60 && instanceOf(view ?? { instances: [] }, second)?.status !== 'expired'; i++) {
      await new Promise((r) => setTimeout(r, 250));
      view = (await s.api.get('/v1/participants/accounts')).body;
    }
    expect(instanceOf(view, second).status).toBe('expired');
    expect(instanceOf(view, first).status).toBe('up');
    // the participant's own url is where it can be reached now, not the dead instance registered last
    expect(view.url).toBe(`${first.accountsUrl}/`);
  });
});
