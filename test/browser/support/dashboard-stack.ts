import { randomBytes } from 'node:crypto';
import {
  BREAKERS_OFF,
  freshDatabase,
  startTestStack,
  type ApiClient,
  type FreshDatabase,
  type TestStack,
} from '#testing';
import { startDemo, type Demo } from '../../../apps/demo/src/start-demo';
import { assertDashboardServed } from './dashboard-origin';

/** A key of each role the dashboard tests use (`API_KEYS`: `name:role:secret`, secrets of 16+ characters). */
export interface DashboardKeys {
  admin: string;
  operator: string;
  viewer: string;
}

export interface DashboardStack {
  stack: TestStack;
  /** Where the browser goes: the coordinator, which serves the dashboard at `/`. */
  origin: string;
  keys: DashboardKeys;
  /** The API as the admin key. */
  api: ApiClient;
  demo: Demo;
  /** Arms the demo inventory's fault switch: every phase call answers 500, until {@link healInventory}. */
  breakInventory(): Promise<void>;
  healInventory(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A coordinator (fresh database, keys configured unless `open`), the demo's accounts and inventory
 * services registered as participants `accounts` and `inventory`.
 */
export async function startDashboardStack(label: string, options: { open?: boolean } = {}): Promise<DashboardStack> {
  const secret = (role: string) => `${role}-${randomBytes(12).toString('hex')}`;
  const keys: DashboardKeys = { admin: secret('admin'), operator: secret('operator'), viewer: secret('viewer') };
  // the pages under test show failed transactions, made by participants failing again and again
  const env: Record<string, string> = options.open
    ? { ...BREAKERS_OFF }
    : {
        ...BREAKERS_OFF,
        API_KEYS: `root:admin:${keys.admin},ops-alice:operator:${keys.operator},watcher:viewer:${keys.viewer}`,
      };
  const stack = await startTestStack(label, { env, apiKey: options.open ? undefined : keys.admin });
  let demoDb: FreshDatabase | null = null;
  let demo: Demo | null = null;
  try {
    await assertDashboardServed(stack.coordinator.url);
    demoDb = await freshDatabase(`${label}_demo`);
    demo = await startDemo({ databaseUrl: demoDb.url, poolSize: 4 });
    for (const [name, url] of [
      ['accounts', demo.accountsUrl],
      ['inventory', demo.inventoryUrl],
    ]) {
      const registered = await stack.api.post('/v1/participants', { name, url });
      if (registered.status !== 201) throw new Error(`register ${name}: ${JSON.stringify(registered.body)}`);
    }
  } catch (error) {
    await demo?.close();
    await demoDb?.drop();
    await stack.close();
    throw error;
  }
  const inventoryFaults = `${demo.inventoryUrl}/_faults`;
  return {
    stack,
    origin: stack.coordinator.url,
    keys,
    api: stack.api,
    demo,
    async breakInventory() {
      const armed = await fetch(inventoryFaults, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ status: 500, times: 100_000 }),
      });
      if (!armed.ok) throw new Error(`fault switch refused: ${await armed.text()}`);
    },
    async healInventory() {
      const cleared = await fetch(inventoryFaults, { method: 'DELETE' });
      if (!cleared.ok) throw new Error(`fault switch refused: ${await cleared.text()}`);
    },
    async close() {
      await stack.close();
      await demo?.close();
      await demoDb?.drop();
    },
  };
}

/**
 * Pay 10 from account A, then reserve one widget: a saga over both demo services. With a retry
 * budget of 2, a broken inventory makes it fail (the reserve's compensation is never acknowledged).
 */
export function paySaga(id: string) {
  return {
    id,
    protocol: 'saga',
    retry: { maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 100 },
    branches: [
      { id: 'pay', participant: 'accounts', payload: { account: 'A', delta: -10 } },
      { id: 'reserve', participant: 'inventory', payload: { sku: 'widget', quantity: 1 } },
    ],
  };
}
