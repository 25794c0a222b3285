// the build config (tsconfig.build.json) compiles *.int-spec.ts with types ["node"] only
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'pg';
import { PostgresXa, type XaBranch } from './postgres-xa';
import { coordinatorDecisions, recoverInDoubt } from './xa-recovery';
import { startXaPostgres, type XaPostgres } from './xa-postgres-harness';

/**
 * A participant that crashes after prepare: its pool is closed (the prepared transaction outlives
 * the connection, as it outlives a process), a new one is opened, and the branch is finished either
 * by recovery asking a stub coordinator or by phase two's redelivery.
 */
describe('PostgresXa crash recovery', () => {
  let server: XaPostgres;
  let url: string;
  let coordinator: Server;
  let coordinatorUrl: string;
  const decisions = new Map<string, 'commit' | 'abort' | null>();
  const asked: string[] = [];

  beforeAll(async () => {
    server = await startXaPostgres();
    url = await server.createDatabase('bank');
    const pool = new Pool({ connectionString: url });
    await pool.query('CREATE TABLE accounts (id text PRIMARY KEY, balance integer NOT NULL)');
    await new PostgresXa({ pool }).install();
    await pool.end();
    // the coordinator's GET /v1/transactions/{id}, reduced to the decision
    coordinator = createServer((request, response) => {
      const id = decodeURIComponent(request.url?.replace('/v1/transactions/', '') ?? '');
      asked.push(id);
      if (request.method !== 'GET' || !decisions.has(id)) {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ id, protocol: '2pc', decision: decisions.get(id) }));
    });
    await new Promise<void>((resolve) => coordinator.listen(0, '127.0.0.1', resolve));
    coordinatorUrl = `http://127.0.0.1:${(coordinator.address() as AddressInfo).port}`;
  }, 120_000);

  afterAll(async () => {
    await new Promise((resolve) => coordinator?.close(resolve));
    await server?.stop();
  });

  /** A participant's life: its own pool and helper, until it "crashes". */
  function participant() {
    const pool = new Pool({ connectionString: url, max: 4 });
    pool.on('error', () => undefined);
    return { pool, xa: new PostgresXa({ pool }) };
  }

  async function prepareDebit(xa: PostgresXa, pool: Pool, delta: number): Promise<{ branch: XaBranch; id: string }> {
    const id = randomUUID();
    await pool.query('INSERT INTO accounts (id, balance) VALUES ($1, 100)', [id]);
    const branch = { transactionId: randomUUID(), branchId: 'debit' };
    const prepared = await xa.prepare(branch, (client) =>
      client.query('UPDATE accounts SET balance = balance + $2 WHERE id = $1', [id, delta]),
    );
    expect(prepared.kind).toBe('applied');
    return { branch, id };
  }

  async function balanceOf(pool: Pool, id: string): Promise<number> {
    const { rows } = await pool.query<{ balance: number }>('SELECT balance FROM accounts WHERE id = $1', [id]);
    return rows[0].balance;
  }

  it('recovery on start asks the coordinator and commits, rolls back, or leaves the undecided', async () => {
    const before = participant();
    const toCommit = await prepareDebit(before.xa, before.pool, -10);
    const toAbort = await prepareDebit(before.xa, before.pool, -20);
    const undecided = await prepareDebit(before.xa, before.pool, -30);
    await before.pool.end(); // the crash: every connection gone, the prepared transactions stay

    decisions.set(toCommit.branch.transactionId, 'commit');
    decisions.set(toAbort.branch.transactionId, 'abort');
    decisions.set(undecided.branch.transactionId, null);
    const after = participant();
    try {
      const report = await recoverInDoubt(after.xa, coordinatorDecisions(coordinatorUrl));
      const gid = (p: { branch: XaBranch }) => after.xa.gidOf(p.branch);
      expect(report).toEqual({
        committed: [gid(toCommit)],
        rolledBack: [gid(toAbort)],
        left: [gid(undecided)],
        errors: [],
      });
      expect(asked).toEqual(expect.arrayContaining([toCommit.branch.transactionId, undecided.branch.transactionId]));
      expect(await balanceOf(after.pool, toCommit.id)).toBe(90);
      expect(await balanceOf(after.pool, toAbort.id)).toBe(100);
      // phase two's redelivery finds the commit done, and a late prepare of the aborted one is refused
      expect(await after.xa.commit(toCommit.branch)).toEqual({ kind: 'duplicate' });
      expect((await after.xa.prepare(toAbort.branch, async () => undefined)).kind).toBe('refused');

      // still undecided: left prepared with its lock, until the coordinator's phase two arrives
      expect((await after.xa.inDoubt()).map((x) => x.gid)).toEqual([gid(undecided)]);
      expect(await after.xa.rollback(undecided.branch)).toEqual({ kind: 'applied', value: undefined });
      expect(await balanceOf(after.pool, undecided.id)).toBe(100);
    } finally {
      await after.pool.end();
    }
  });

  it('without recovery, phase two redelivered after the crash commits the prepared branch once', async () => {
    const before = participant();
    const { branch, id } = await prepareDebit(before.xa, before.pool, -40);
    await before.pool.end();

    const after = participant();
    try {
      expect(await balanceOf(after.pool, id)).toBe(100);
      expect(await after.xa.commit(branch)).toEqual({ kind: 'applied', value: undefined });
      expect(await after.xa.commit(branch)).toEqual({ kind: 'duplicate' });
      expect(await balanceOf(after.pool, id)).toBe(60);
      expect(await after.xa.inDoubt()).toEqual([]);
    } finally {
      await after.pool.end();
    }
  });
});
