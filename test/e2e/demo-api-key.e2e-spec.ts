import { freshDatabase, startTestStack, type FreshDatabase, type TestStack } from '#testing';
import { startDemoProcess, type RunningDemo } from './demo-process';

const PARTICIPANT_KEY = 'demo-participant-key-0123456789';
const ADMIN_KEY = 'demo-admin-key-0123456789abcdef';

/**
 * The demo against a coordinator with access control on: with `DEMO_API_KEY` (a `participant`
 * key) its three services register, shipping over NATS too; without it each registration is
 * refused (401) and the demo says so on stderr, and still serves.
 */
describe('the demo with a coordinator that requires API keys', () => {
  let s: TestStack;
  let demoDb: FreshDatabase;
  const demos: RunningDemo[] = [];

  beforeAll(async () => {
    s = await startTestStack('demo_api_key', {
      env: { API_KEYS: `p:participant:${PARTICIPANT_KEY},a:admin:${ADMIN_KEY}` },
      apiKey: ADMIN_KEY,
    });
    demoDb = await freshDatabase('demo_api_key_services');
  });

  afterAll(async () => {
    for (const demo of demos) {
      if (demo.child.exitCode === null && demo.child.signalCode === null) {
        const exited = new Promise((done) => demo.child.once('exit', done));
        demo.child.kill('SIGTERM');
        await exited;
      }
    }
    await s?.close();
    await demoDb?.drop();
  });

  const start = async (env: Record<string, string>) => {
    const demo = await startDemoProcess({ DEMO_DATABASE_URL: demoDb.url, COORDINATOR_URL: s.api.base, ...env });
    demos.push(demo);
    return demo;
  };

  const names = async () =>
    ((await s.api.get('/v1/participants')).body.items as { name: string }[]).map((p) => p.name).sort();

  it('without DEMO_API_KEY: every registration is refused, the demo warns and serves', async () => {
    const demo = await start({ DEMO_NATS_URL: 'off' });
    expect(demo.output()).toMatch(/could not register participant accounts: .*401/);
    expect(demo.output()).toMatch(/could not register participant inventory: .*401/);
    expect((await fetch(`${demo.accountsUrl}/accounts`)).status).toBe(200);
    expect(await names()).toEqual(['p1']); // the test stack's own participant only
  });

  it('with DEMO_API_KEY: accounts, inventory and shipping (NATS) register', async () => {
    const demo = await start({ DEMO_API_KEY: PARTICIPANT_KEY, DEMO_SHIPPING_NAME: 'shipping-keyed', DEMO_SEED: '0' });
    expect(demo.output()).not.toMatch(/could not register/);
    expect(await names()).toEqual(['accounts', 'inventory', 'p1', 'shipping-keyed']);
  });
});
