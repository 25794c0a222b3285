import { startDemo } from '../../apps/demo/src/start-demo';
import {
  CoordinatorProcess,
  TEST_REDIS_URL,
  TestParticipant,
  apiClient,
  freshDatabase,
  freshRedisPrefix,
  type FreshDatabase,
} from '#testing';

type Demo = Awaited<ReturnType<typeof startDemo>>;

/**
 * TCC, 2PC and 3PC with the coordinator killed (SIGKILL) before the decision, right after it is
 * committed, and midway through phase two. After a restart each transaction reaches what its
 * decision (or presumed abort) dictates, and the demo bank's total is conserved.
 */
describe('atomic commit protocols under coordinator crashes', () => {
  let coordinatorDb: FreshDatabase;
  let demoDb: FreshDatabase;
  let demo: Demo;
  let participant: TestParticipant;
  const prefix = freshRedisPrefix('acrash');

  beforeAll(async () => {
    coordinatorDb = await freshDatabase('acrash');
    demoDb = await freshDatabase('acrash_demo');
    demo = await startDemo({ databaseUrl: demoDb.url, accountsPort: 0, inventoryPort: 0 });
    participant = await TestParticipant.start();
  });
  afterAll(async () => {
    await demo.close();
    await participant.close();
    await coordinatorDb.drop();
    await demoDb.drop();
  });

  const accounts = async () => {
    const r = await fetch(`${demo.accountsUrl}/accounts`);
    const body = (await r.json()) as { items: { id: string; balance: number }[]; total: number };
    return { ...Object.fromEntries(body.items.map((a) => [a.id, a.balance])), total: body.total } as Record<
      string,
      number
    >;
  };

  async function run(crashAt: string, body: Record<string, unknown>) {
    const coordinator = new CoordinatorProcess({
      databaseUrl: coordinatorDb.url,
      redisUrl: TEST_REDIS_URL,
      redisPrefix: prefix,
    });
    const api = apiClient(await coordinator.start({ CRASH_AT: crashAt, LOG_LEVEL: 'warn' }));
    await api.post('/v1/participants', { name: 'accounts', url: demo.accountsUrl });
    await api.post('/v1/participants', { name: 'p1', url: participant.url });
    const id = `${body.protocol}-${crashAt.replace(':', '-')}-${Date.now()}`;
    await api.post('/v1/transactions', { id, ...body }).catch(() => null);
    expect(await coordinator.exited).toBeNull(); // it died by SIGKILL at the named point
    const restarted = new CoordinatorProcess({
      databaseUrl: coordinatorDb.url,
      redisUrl: TEST_REDIS_URL,
      redisPrefix: prefix,
    });
    const again = apiClient(await restarted.start({ LOG_LEVEL: 'warn' }));
    try {
      return await again.until(
        `/v1/transactions/${id}`,
        (t: any) => ['committed', 'aborted'].includes(t.status),
        20_000,
      );
    } finally {
      await restarted.stop();
    }
  }

  const transfer = (protocol: string) => ({
    protocol,
    branches: [
      { id: 'debit', participant: 'accounts', payload: { account: 'A', delta: -100 } },
      { id: 'credit', participant: 'accounts', payload: { account: 'B', delta: 100 } },
    ],
  });

  describe.each(['tcc', '2pc'])('%s transfer on the demo bank', (protocol) => {
    it.each([
      // the first vote is back but not recorded: no decision in the log, so presumed abort
      ['after-call:1', 'aborted'],
      // the decision is durable, no phase-two call made yet: it must be carried out
      ['after-decision', 'committed'],
      // one phase-two call answered, the other not yet: the rest of phase two is re-sent
      ['after-call:3', 'committed'],
    ])('killed at %s ends %s with the total conserved', async (crashAt, expected) => {
      const before = await accounts();
      const t = await run(crashAt, transfer(protocol));
      expect(t.status).toBe(expected);
      expect(t.events.map((e: any) => e.type)).toContain('transaction.recovered');
      const after = await accounts();
      expect(after.total).toBe(before.total);
      const moved = expected === 'committed' ? 100 : 0;
      expect(after.A).toBe(before.A - moved);
      expect(after.B).toBe(before.B + moved);
    });
  });

  describe('3pc', () => {
    const threePc = {
      protocol: '3pc',
      branches: ['a', 'b'].map((b) => ({ id: b, participant: 'p1' })),
    };
    it.each([
      ['after-call:1', 'aborted'],
      ['after-decision', 'committed'],
      ['after-call:5', 'committed'],
    ])('killed at %s ends %s and every branch agrees', async (crashAt, expected) => {
      const t = await run(crashAt, threePc);
      expect(t.status).toBe(expected);
      for (const b of ['a', 'b']) {
        const o = participant.outcome(t.id, b);
        expect(o.committed).toBe(expected === 'committed' ? 1 : 0);
        expect(o.undone).toBe(expected === 'aborted' && o.applied ? 1 : 0);
      }
    });
  });
});
