import { Pool } from 'pg';
import { phasePaths } from '#participant';
import {
  freshDatabase,
  startBank,
  startTestStack,
  stopBank,
  type BankProcess,
  type FreshDatabase,
  type TestStack,
  until,
} from '#testing';

const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/**
 * Two processes of one participant on one broker (the SDK's Nest module, over NATS): each is an
 * instance of its own, with its own lease, although both register the broker's URL; an operator
 * removing one leaves the other serving, and the removed one stops taking calls: over a broker the
 * coordinator cannot route around it, the broker hands a request to whichever process consumes it.
 */
describe('two processes of a participant over one broker', () => {
  const name = `bank-two-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let s: TestStack;
  let bankDb: FreshDatabase;
  let db: Pool;
  const banks: BankProcess[] = [];

  beforeAll(async () => {
    s = await startTestStack('broker_instances', { env: { CALL_TIMEOUT_MS: '1500', NO_INSTANCE_RETRY_MS: '300' } });
    bankDb = await freshDatabase('broker_instances_bank');
    const env = {
      TRANSPORT: 'nats',
      BROKER_URL: NATS_URL,
      DATABASE_URL: bankDb.url,
      COORDINATOR_URL: s.api.base,
      PARTICIPANT_NAME: name,
      TTL_SECONDS: '30',
      // a drained instance hears of it at its next heartbeat
      HEARTBEAT_MS: '500',
    };
    banks.push(await startBank(env));
    banks.push(await startBank(env));
    db = new Pool({ connectionString: bankDb.url, max: 2 });
    db.on('error', () => undefined);
  });

  afterAll(async () => {
    for (const bank of banks) await stopBank(bank);
    await db?.end();
    await s?.close();
    await bankDb?.drop();
  });

  let drained: BankProcess;

  it('registers one instance per process, and removing one leaves the other serving', async () => {
    const view = (await s.api.get(`/v1/participants/${name}`)).body;
    expect(view.instances).toHaveLength(2);
    expect(view.instances.map((i: any) => i.status)).toEqual(['up', 'up']);
    const [gone] = view.instances.map((i: any) => i.instanceId);
    expect(gone).toMatch(/:\d+$/); // <host>:<pid>
    drained = banks.find((b) => gone.endsWith(`:${b.child.pid}`))!;

    const removed = await s.api.delete(`/v1/participants/${name}/instances/${encodeURIComponent(gone)}`);
    expect(removed.status).toBe(200);
    const after = (await s.api.get(`/v1/participants/${name}`)).body;
    expect(after.status).toBe('up');
    expect(after.instances.find((i: any) => i.instanceId === gone).status).toBe('draining');

    await db.query(`INSERT INTO accounts (id, balance) VALUES ('x', 100), ('y', 0)`);
    const r = await s.api.post('/v1/transactions?wait=10000', {
      protocol: 'saga',
      branches: [
        { id: 'debit', participant: name, payload: { account: 'x', amount: 30 }, paths: phasePaths('saga', 'debit') },
        { id: 'credit', participant: name, payload: { account: 'y', amount: 30 }, paths: phasePaths('saga', 'credit') },
      ],
    });
    expect(r.body.status).toBe('committed');
  });

  it('a removed process takes no call once it heard it was drained, even with no other process left', async () => {
    await until(() => drained.output().includes('stopped taking calls'), 10_000, 'the drain to be heard');
    // the other process dies without leaving: its lease still says up, so the coordinator sends the
    // call, and only the drained process could take it from the broker
    const other = banks.find((b) => b !== drained)!;
    other.child.kill('SIGKILL');
    await new Promise((resolve) => other.child.once('exit', resolve));

    await db.query(`INSERT INTO accounts (id, balance) VALUES ('z', 0)`);
    const r = await s.api.post('/v1/transactions?wait=10000', {
      protocol: 'saga',
      timeoutMs: 3_000,
      retry: { maxAttempts: 2, initialBackoffMs: 100, maxBackoffMs: 100 },
      branches: [
        {
          id: 'credit',
          participant: name,
          payload: { account: 'z', amount: 5 },
          paths: { action: phasePaths('saga', 'credit').action, compensate: null },
        },
      ],
    });
    expect(r.body.status).toBe('aborted');
    const { rows } = await db.query('SELECT phase FROM ops WHERE transaction_id = $1', [r.body.id]);
    expect(rows).toEqual([]);
  });
});
