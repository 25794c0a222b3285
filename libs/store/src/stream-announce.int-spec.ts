// the build config (tsconfig.build.json) compiles *.int-spec.ts with types ["node"] only
import { Client, type Pool } from 'pg';
import type { FreshDatabase } from '#testing';
import { migratedDatabase } from './migrated-database-fixtures';
import { runningTransaction } from './transaction-record-fixtures';
import { PgTransactionStore, STREAM_CHANNEL } from './transaction-store.pg';
import type { CreateOp, StatusChange } from './transaction-store';

/**
 * The live stream's announcements: the statement that commits a flush notifies its status changes,
 * those of the ops that took effect only.
 */
describe('PgTransactionStore: status changes announced by the commit (real Postgres)', () => {
  let db: FreshDatabase;
  let pool: Pool;
  let listener: Client;
  const payloads: string[] = [];

  beforeAll(async () => {
    ({ db, pool } = await migratedDatabase('stream_announce', 2));
    listener = new Client({ connectionString: db.url });
    listener.on('error', () => undefined);
    await listener.connect();
    listener.on('notification', (msg) => msg.channel === STREAM_CHANNEL && payloads.push(msg.payload ?? ''));
    await listener.query(`LISTEN ${STREAM_CHANNEL}`);
  });

  afterAll(async () => {
    await listener?.end();
    await pool?.end();
    await db?.drop();
  });

  /** A new running saga. */
  function create(n: number, at: Date): CreateOp {
    const id = `t${n}`;
    return {
      op: 'create',
      txn: runningTransaction(id, at, { requestHash: 'h' }),
      branches: [],
      events: [],
    };
  }

  async function heard(count: number): Promise<StatusChange[]> {
    for (let i = 0; i < 100 && payloads.length < count; i++) await new Promise((r) => setTimeout(r, 50));
    return payloads.map((p) => JSON.parse(p) as StatusChange);
  }

  it('announces each change of a flush once, when it commits, and nothing for an op that took no effect', async () => {
    // one flush at a time: the first op goes alone, the others wait and go together
    const store = new PgTransactionStore(pool, { maxBatch: 256, maxConcurrentFlushes: 1 });
    const at = new Date('2026-01-01T00:00:00.000Z');
    const ops = Array.from({ length: 20 }, (_, n) => create(n, at));
    expect(await Promise.all(ops.map((op) => store.apply(op)))).toEqual(ops.map(() => 'ok'));
    const changes = await heard(20);
    expect(changes.map((c) => c.id).sort()).toEqual(ops.map((op) => op.txn.id).sort());
    expect(changes[0]).toEqual({ id: ops[0].txn.id, protocol: 'saga', status: 'running', updatedAt: at.toISOString() });

    payloads.length = 0;
    const fresh = create(1000, at);
    expect(await Promise.all([store.apply(fresh), store.apply(ops[3])])).toEqual(['ok', 'exists']);
    expect((await heard(1)).map((c) => c.id)).toEqual([fresh.txn.id]);
    await new Promise((r) => setTimeout(r, 200)); // nothing else arrives
    expect(payloads).toHaveLength(1);
  });
});
