import fc from 'fast-check';
import { startDemo } from '../../apps/demo/src/start-demo';
import {
  CoordinatorProcess,
  TEST_REDIS_URL,
  TcpProxy,
  apiClient,
  freshDatabase,
  freshRedisPrefix,
  type FreshDatabase,
} from '#testing';

type Demo = Awaited<ReturnType<typeof startDemo>>;

const PROTOCOLS = ['saga', 'tcc', '2pc', '3pc'] as const;
const FINAL = ['committed', 'aborted'];

/**
 * Every connection between the coordinator and Postgres is cut at random moments while transfers
 * of all four protocols run against the demo bank: a commit may land and its acknowledgement be
 * lost, a batch may fail half-sent, a pooled connection may die under a query. Every transaction
 * the coordinator acknowledged reaches a final state without help, and the bank's total is conserved.
 * The cut schedule comes from a seed (printed; CUTS_SEED replays it).
 */
describe('connection cuts between the coordinator and Postgres', () => {
  let coordinatorDb: FreshDatabase;
  let demoDb: FreshDatabase;
  let demo: Demo;
  let proxy: TcpProxy;
  let coordinator: CoordinatorProcess;

  beforeAll(async () => {
    coordinatorDb = await freshDatabase('cuts');
    demoDb = await freshDatabase('cuts_demo');
    demo = await startDemo({ databaseUrl: demoDb.url, accountsPort: 0, inventoryPort: 0 });
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(coordinatorDb.url).port || 5432) });
    coordinator = new CoordinatorProcess({
      databaseUrl: proxy.through(coordinatorDb.url),
      redisUrl: TEST_REDIS_URL,
      redisPrefix: freshRedisPrefix('cuts'),
    });
  });
  afterAll(async () => {
    await coordinator?.stop();
    await proxy?.close();
    await demo?.close();
    await coordinatorDb?.drop();
    await demoDb?.drop();
  });

  const total = async () => {
    const r = await fetch(`${demo.accountsUrl}/accounts`);
    return ((await r.json()) as { total: number }).total;
  };

  it('leaves every acknowledged transaction final and the money conserved', async () => {
    const seed = Number(process.env.CUTS_SEED ?? Date.now() % 1_000_000);
    process.stdout.write(`connection-cuts seed ${seed} (CUTS_SEED=${seed} replays the cut schedule)\n`);
    const api = apiClient(await coordinator.start({ LOG_LEVEL: 'error', INSTANCE_TTL_MS: '3000' }));
    expect((await api.post('/v1/participants', { name: 'accounts', url: demo.accountsUrl })).status).toBe(201);
    const before = await total();

    // the schedule: gaps between cuts, and each transfer's protocol, accounts and amount
    const [plan] = fc.sample(
      fc.record({
        gaps: fc.array(fc.integer({ min: 150, max: 700 }), { minLength: 40, maxLength: 40 }),
        transfers: fc.array(
          fc.record({
            protocol: fc.constantFrom(...PROTOCOLS),
            from: fc.constantFrom('A', 'B', 'C'),
            to: fc.constantFrom('A', 'B', 'C'),
            amount: fc.integer({ min: 1, max: 40 }),
          }),
          { minLength: 3000, maxLength: 3000 },
        ),
      }),
      { seed, numRuns: 1 },
    );

    let cutting = true;
    const cutter = (async () => {
      for (const gap of plan.gaps) {
        await new Promise((r) => setTimeout(r, gap));
        proxy.cutAll();
      }
    })();

    const acknowledged: string[] = [];
    const attempted: string[] = [];
    let next = 0;
    const worker = async () => {
      // transfers go on for as long as the cuts do
      while (cutting && next < plan.transfers.length) {
        const t = plan.transfers[next];
        const id = `cut-${seed}-${next++}`;
        attempted.push(id);
        const r = await api
          .post('/v1/transactions', {
            id,
            protocol: t.protocol,
            retry: { maxAttempts: 30, initialBackoffMs: 50, maxBackoffMs: 500 },
            branches: [
              { id: 'debit', participant: 'accounts', payload: { account: t.from, delta: -t.amount } },
              { id: 'credit', participant: 'accounts', payload: { account: t.to, delta: t.amount } },
            ],
          })
          .catch(() => null);
        if (r && r.status >= 200 && r.status < 300) acknowledged.push(id);
      }
    };
    const workers = Promise.all([worker(), worker(), worker(), worker()]);
    await cutter;
    cutting = false;
    await workers;
    expect(proxy.cuts).toBeGreaterThan(40);
    expect(acknowledged.length).toBeGreaterThan(attempted.length / 4);

    // every acknowledged transaction, and every attempted one that was written, ends final; a call
    // that fails says whether the coordinator is still alive, with its last words
    const get = (path: string) =>
      api.get(path).catch((e: Error) => {
        throw new Error(`GET ${path}: ${e.message} (${String(e.cause)}); ${coordinator.state()}`);
      });
    for (const id of attempted) {
      const r = await get(`/v1/transactions/${id}`);
      if (r.status === 404) {
        expect(acknowledged).not.toContain(id);
        continue;
      }
      const done = await api.until(`/v1/transactions/${id}`, (t: any) => FINAL.includes(t.status), 60_000);
      expect(FINAL).toContain(done.status);
    }
    expect(await total()).toBe(before);
    expect(coordinator.log).not.toMatch(/Unhandled|uncaught/i);
  });
});
