import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { Pool } from 'pg';
import { freePort, startTestStack, type TestStack } from '#testing';
import { startXaPostgres, type XaPostgres } from '../../libs/participant/src/xa/xa-postgres-harness';

// the framework-free XA participant of libs/participant/test-app, built
const XA_MAIN = resolve(__dirname, '../../dist/libs/participant/test-app/xa-main.js');

interface XaParticipant {
  child: ChildProcess;
  url: string;
  /** Its stdout and stderr so far. */
  output(): string;
}

/**
 * A 2PC transfer between two databases of a Postgres server that can prepare transactions (the
 * machine's shared one cannot), through a real coordinator: two XA participants (PostgresXa +
 * PhaseDispatcher + recoverInDoubt), each a process on its own database.
 */
describe('XA: 2PC across two Postgres databases through a real coordinator', () => {
  let pg: XaPostgres;
  let s: TestStack;
  const dbs: Record<'a' | 'b', { url: string; pool: Pool; port: number }> = {} as never;
  const running: Record<'a' | 'b', XaParticipant | undefined> = { a: undefined, b: undefined };

  async function startParticipant(side: 'a' | 'b'): Promise<XaParticipant> {
    const child = spawn(process.execPath, [XA_MAIN], {
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: dbs[side].url,
        COORDINATOR_URL: s.api.base,
        PARTICIPANT_NAME: `xa-${side}`,
        PORT: String(dbs[side].port),
        GID_PREFIX: `bank${side}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    await new Promise<void>((ready, fail) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('participant ready:')) ready();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => fail(new Error(`xa-${side} exited with ${code}:\n${output}`)));
      setTimeout(() => fail(new Error(`xa-${side} not ready after 20 s:\n${output}`)), 20_000).unref();
    });
    const participant = { child, url: `http://127.0.0.1:${dbs[side].port}`, output: () => output };
    running[side] = participant;
    return participant;
  }

  async function kill(side: 'a' | 'b'): Promise<void> {
    const child = running[side]?.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGKILL');
    await exited;
  }

  async function gate(side: 'a' | 'b', closed: boolean, prepare = false): Promise<void> {
    const r = await fetch(`${running[side]!.url}/_gate`, { method: 'POST', body: JSON.stringify({ closed, prepare }) });
    expect(r.status).toBe(200);
  }

  beforeAll(async () => {
    pg = await startXaPostgres();
    s = await startTestStack('xa_e2e', { env: { CALL_TIMEOUT_MS: '3000', SWEEP_INTERVAL_MS: '200' } });
    for (const side of ['a', 'b'] as const) {
      const url = await pg.createDatabase(`bank_${side}`);
      const pool = new Pool({ connectionString: url, max: 3 });
      pool.on('error', () => undefined);
      dbs[side] = { url, pool, port: await freePort() };
      await startParticipant(side);
    }
  }, 180_000);

  afterAll(async () => {
    for (const side of ['a', 'b'] as const) {
      await kill(side);
      await dbs[side]?.pool.end();
    }
    await s?.close();
    await pg?.stop();
  });

  async function open(side: 'a' | 'b', balance: number): Promise<string> {
    const id = `acc-${Math.random().toString(36).slice(2, 10)}`;
    await dbs[side].pool.query('INSERT INTO accounts (id, balance) VALUES ($1, $2)', [id, balance]);
    return id;
  }

  async function balance(side: 'a' | 'b', id: string): Promise<number> {
    const { rows } = await dbs[side].pool.query<{ balance: number }>('SELECT balance FROM accounts WHERE id = $1', [
      id,
    ]);
    return rows[0].balance;
  }

  /** The prepared transactions (gids) of `side`'s database. */
  async function prepared(side: 'a' | 'b'): Promise<string[]> {
    const { rows } = await dbs[side].pool.query<{ gid: string }>(
      'SELECT gid FROM pg_prepared_xacts WHERE database = current_database() ORDER BY gid',
    );
    return rows.map((r) => r.gid);
  }

  /** Whether another session can lock the account's row right now (NOWAIT: 55P03 when it is held). */
  async function rowLocked(side: 'a' | 'b', id: string): Promise<boolean> {
    const client = await dbs[side].pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE NOWAIT', [id]);
      return false;
    } catch (error) {
      if ((error as { code?: string }).code === '55P03') return true;
      throw error;
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
  }

  const transfer = (id: string, from: string, to: string, amount: number) => ({
    id,
    protocol: '2pc',
    retry: { maxAttempts: 100, initialBackoffMs: 200, maxBackoffMs: 1000 },
    branches: [
      { id: 'debit', participant: 'xa-a', payload: { account: from, delta: -amount } },
      { id: 'credit', participant: 'xa-b', payload: { account: to, delta: amount } },
    ],
  });

  const txId = (label: string) => `xa-${label}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  it('holds the row lock from prepare to commit, then commits both databases', async () => {
    const [alice, bob] = [await open('a', 100), await open('b', 0)];
    await gate('a', true); // a's commit answers 503 until the gate opens: the branch stays prepared
    const id = txId('lock');
    expect((await s.api.post('/v1/transactions', transfer(id, alice, bob, 30))).status).toBe(201);
    await s.api.until(`/v1/transactions/${id}`, (t: { decision: string | null }) => t.decision === 'commit', 20_000);

    // prepared, not committed: the debit is invisible, the row is locked, the prepared transaction is listed
    expect(await prepared('a')).toHaveLength(1);
    expect(await rowLocked('a', alice)).toBe(true);
    expect(await balance('a', alice)).toBe(100);

    await gate('a', false);
    const done = await s.api.until(
      `/v1/transactions/${id}`,
      (t: { status: string }) => t.status === 'committed',
      20_000,
    );
    expect(done.status).toBe('committed');
    expect([await balance('a', alice), await balance('b', bob)]).toEqual([70, 30]);
    expect(await rowLocked('a', alice)).toBe(false);
    expect([...(await prepared('a')), ...(await prepared('b'))]).toEqual([]);
  });

  it('a participant killed after prepare recovers at restart and follows the commit decision', async () => {
    const [alice, bob] = [await open('a', 100), await open('b', 0)];
    await gate('a', true);
    const id = txId('commit');
    expect((await s.api.post('/v1/transactions', transfer(id, alice, bob, 40))).status).toBe(201);
    await s.api.until(`/v1/transactions/${id}`, (t: { decision: string | null }) => t.decision === 'commit', 20_000);
    const [gid] = await prepared('a');

    await kill('a');
    // the prepared transaction outlives the process, locks and all
    expect(await prepared('a')).toEqual([gid]);
    expect(await rowLocked('a', alice)).toBe(true);

    const restarted = await startParticipant('a');
    // resolved at start, before serving: by asking the coordinator, not by a redelivery
    const report = JSON.parse(/recovered: (.*)\n/.exec(restarted.output())![1]) as { committed: string[] };
    expect(report.committed).toEqual([gid]);
    expect(await balance('a', alice)).toBe(60);
    const done = await s.api.until(
      `/v1/transactions/${id}`,
      (t: { status: string }) => t.status === 'committed',
      20_000,
    );
    expect(done.status).toBe('committed');
    expect([await balance('a', alice), await balance('b', bob)]).toEqual([60, 40]);
    expect(await prepared('a')).toEqual([]);
  });

  it('a participant killed after prepare recovers at restart and follows the abort decision', async () => {
    const [alice, bob] = [await open('a', 100), await open('b', 0)];
    await gate('a', true); // a prepares; its rollback will wait
    await gate('b', true, true); // b's vote never comes: the transaction's deadline decides abort
    const id = txId('abort');
    expect((await s.api.post('/v1/transactions', { ...transfer(id, alice, bob, 50), timeoutMs: 4000 })).status).toBe(
      201,
    );
    await s.api.until(`/v1/transactions/${id}`, (t: { decision: string | null }) => t.decision === 'abort', 20_000);
    const [gid] = await prepared('a'); // a voted yes before the deadline: prepared, its rollback held back
    expect(gid).toMatch(/^banka\./);

    await kill('a');
    expect(await prepared('a')).toEqual([gid]);
    const restarted = await startParticipant('a');
    const report = JSON.parse(/recovered: (.*)\n/.exec(restarted.output())![1]) as { rolledBack: string[] };
    expect(report.rolledBack).toEqual([gid]);
    expect(await prepared('a')).toEqual([]);
    expect(await rowLocked('a', alice)).toBe(false);

    await gate('b', false);
    const done = await s.api.until(`/v1/transactions/${id}`, (t: { status: string }) => t.status === 'aborted', 20_000);
    expect(done.status).toBe('aborted');
    expect([await balance('a', alice), await balance('b', bob)]).toEqual([100, 0]);
  });
});
