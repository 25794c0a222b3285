import { createServer, type AddressInfo } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { freePort, freshDatabase, startTestStack, type FreshDatabase, type TestStack } from '#testing';

const CLI = resolve(__dirname, '../../dist/apps/cli/src/main.js');
const ADMIN_KEY = 'cli-admin-secret-0123456789';

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The `txc` CLI as a real process (built output in dist/) against a real coordinator that requires
 * API keys: what it prints, in tables and with `--json`, and how it exits when the coordinator says
 * no (1, with the problem's detail) or the command is misused (2). `migrate` against a fresh database.
 */
describe('txc CLI', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack('cli', { env: { API_KEYS: `cli-admin:admin:${ADMIN_KEY}` }, apiKey: ADMIN_KEY });
  });
  afterAll(() => s?.close());
  afterEach(() => s.participant.clearFaults());

  /** Runs `txc <args>` asynchronously (the test participant answers in this process meanwhile). */
  const txc = (args: string[], env: Record<string, string> = {}): Promise<CliRun> =>
    new Promise((done) => {
      const childEnv = { PATH: process.env.PATH ?? '', TXC_URL: s.coordinator.url, TXC_API_KEY: ADMIN_KEY, ...env };
      execFile(process.execPath, [CLI, ...args], { env: childEnv, timeout: 30_000 }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      });
    });
  const unique = (label: string) => `${label}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const committedSaga = async () => {
    const id = unique('cli-saga');
    const r = await s.api.post('/v1/transactions?wait=10000', {
      id,
      protocol: 'saga',
      branches: [{ id: 'only', participant: 'p1', payload: { n: 1 } }],
    });
    expect(r.body.status).toBe('committed');
    return id;
  };

  it('tx list --json lists a transaction just started; the table shows it too', async () => {
    const id = await committedSaga();
    const json = await txc(['tx', 'list', '--json', '--participant', 'p1', '--limit', '50']);
    expect(json).toMatchObject({ code: 0, stderr: '' });
    const page = JSON.parse(json.stdout);
    expect(page.items.find((t: { id: string }) => t.id === id)).toMatchObject({
      status: 'committed',
      protocol: 'saga',
    });

    const table = await txc(['tx', 'list', '--status', 'committed']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+PROTOCOL\s+STATUS/);
    expect(table.stdout).toMatch(new RegExp(`${id}\\s+saga\\s+committed`));
  });

  it('tx show prints the header, the branches and the attempts with their errors', async () => {
    const id = unique('cli-failed');
    s.participant.fault({ transactionId: id, branchId: 'b', phase: 'action', status: 500, times: 100 });
    s.participant.fault({ transactionId: id, branchId: 'a', phase: 'compensate', status: 503, times: 100 });
    const started = await s.api.post('/v1/transactions?wait=15000', {
      id,
      protocol: 'saga',
      retry: { maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 100 },
      branches: [
        { id: 'a', participant: 'p1', payload: { n: 1 } },
        { id: 'b', participant: 'p1', payload: { n: 2 } },
      ],
    });
    expect(started.body.status).toBe('failed');

    const shown = await txc(['tx', 'show', id]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^id:\\s+${id}$`, 'm'));
    expect(shown.stdout).toMatch(/^status:\s+failed$/m);
    expect(shown.stdout).toMatch(/^first error:\s+b\/action #1: .*500/m);
    expect(shown.stdout).toMatch(/^Branches\nBRANCH\s+PARTICIPANT\s+STATUS/m);
    expect(shown.stdout).toMatch(/^Attempts\nBRANCH\s+PHASE/m);
    expect(shown.stdout).toMatch(/^a\s+compensate\s+1\s+\S+\s+503\s+\S+\s+.*503/m);

    // replay needs a reason: a misuse, exit 2, nothing sent
    const noReason = await txc(['tx', 'replay', id]);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/required option '--reason <text>'/);

    s.participant.clearFaults();
    const replayed = await txc(['tx', 'replay', id, '--reason', 'participant fixed']);
    expect(replayed).toMatchObject({ code: 0, stderr: '' });
    expect(replayed.stdout).toMatch(new RegExp(`^${id}: `));
    const done = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'aborted');
    expect(done.events.filter((e: { type: string }) => e.type === 'operator.replay').map((e: any) => e.detail)).toEqual(
      [{ actor: 'cli-admin', reason: 'participant fixed' }],
    );
  });

  it("tx abort and tx replay print the coordinator's 409 detail and exit 1 when not allowed", async () => {
    const id = await committedSaga();
    const conflict = await s.api.post(`/v1/transactions/${id}/abort`, { reason: 'too late' });
    expect(conflict.status).toBe(409);

    const abort = await txc(['tx', 'abort', id, '--reason', 'too late']);
    expect(abort).toMatchObject({ code: 1, stdout: '' });
    expect(abort.stderr).toBe(`txc: ${conflict.body.detail} (409)\n`);

    const replay = await txc(['tx', 'replay', id, '--reason', 'again']);
    expect(replay).toMatchObject({ code: 1, stdout: '' });
    expect(replay.stderr).toMatch(/^txc: .+ \(409\)\n$/);

    const missing = await txc(['tx', 'show', unique('nobody')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/\(404\)\n$/);
  });

  it('keys create prints a key once; it works for tx list and is refused (403) for tx replay', async () => {
    const created = await txc(['keys', 'create', 'bot', '--role', 'viewer', '--json']);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const key = JSON.parse(created.stdout);
    expect(key).toMatchObject({ name: 'bot', role: 'viewer', source: 'stored' });
    expect(typeof key.key).toBe('string');

    const listed = await txc(['keys', 'list']);
    expect(listed.stdout).toMatch(/^bot\s+viewer\s+stored/m);
    expect(listed.stdout).not.toContain(key.key);

    const asBot = (args: string[]) => txc(args, { TXC_API_KEY: key.key });
    expect((await asBot(['tx', 'list', '--json'])).code).toBe(0);
    const id = await committedSaga();
    const refused = await asBot(['tx', 'replay', id, '--reason', 'not mine to replay']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^txc: .+ \(403\)\n$/);

    const revoked = await txc(['keys', 'revoke', 'bot']);
    expect(revoked).toMatchObject({ code: 0, stdout: 'bot: revoked\n' });
    expect((await asBot(['tx', 'list'])).code).toBe(1);
  });

  it('keys create with a name the coordinator would refuse is a misuse (exit 2), with or without --database-url', async () => {
    for (const name of ['bad name!', 'anonymous']) {
      const overApi = await txc(['keys', 'create', name, '--role', 'viewer']);
      expect(overApi).toMatchObject({ code: 2, stdout: '' });
      expect(overApi.stderr).toMatch(/^txc: .+\n$/);
      const direct = await txc(['keys', 'create', name, '--role', 'viewer', '--database-url', s.db.url]);
      expect(direct).toMatchObject({ code: 2, stderr: overApi.stderr });
    }
  });

  it('keys create --database-url writes the first admin key straight to the database; the coordinator accepts it', async () => {
    const created = await txc(
      ['keys', 'create', 'first-admin', '--role', 'admin', '--database-url', s.db.url, '--json'],
      {
        // no API is called: its URL and key are not looked at, even when no call could use them
        TXC_URL: 'http://127.0.0.1:9/v1',
        TXC_API_KEY: 'a key with spaces',
      },
    );
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const key = JSON.parse(created.stdout);
    expect(key).toMatchObject({ name: 'first-admin', role: 'admin', source: 'stored', createdBy: 'txc-cli' });

    // stored keys are re-read within KEY_CACHE_MS (5 s by default)
    const deadline = Date.now() + 15_000;
    let listed = await txc(['keys', 'list', '--json'], { TXC_API_KEY: key.key });
    while (listed.code !== 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      listed = await txc(['keys', 'list', '--json'], { TXC_API_KEY: key.key });
    }
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).items).toContainEqual(
      expect.objectContaining({ name: 'first-admin', createdBy: 'txc-cli' }),
    );

    const again = await txc(['keys', 'create', 'first-admin', '--role', 'admin', '--database-url', s.db.url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('txc: a key named "first-admin" exists\n');
    expect((await txc(['keys', 'create', 'bad name', '--role', 'admin', '--database-url', s.db.url])).code).toBe(2);
  });

  it('revokes a stored key that shares its name with API_KEYS (as keys create --database-url can write); the configured one stays', async () => {
    const created = await txc(['keys', 'create', 'cli-admin', '--role', 'viewer', '--database-url', s.db.url], {
      TXC_URL: 'http://127.0.0.1:9', // the CLI does not know the coordinator's API_KEYS
    });
    expect(created.code).toBe(0);
    const revoked = await txc(['keys', 'revoke', 'cli-admin']);
    expect(revoked).toMatchObject({ code: 0, stdout: 'cli-admin: revoked\n' });
    // the configured key still signs this CLI in; with no stored key left, its name is API_KEYS' to manage
    const again = await txc(['keys', 'revoke', 'cli-admin']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/configured by API_KEYS/);
  });

  it('never prints the API key from TXC_API_KEY, in help or on a misuse', async () => {
    for (const args of [['--help'], ['frobnicate']]) {
      const r = await txc(args);
      expect(`${r.stdout}${r.stderr}`).not.toContain(ADMIN_KEY);
    }
    // the key from the environment is still the one sent
    expect((await txc(['keys', 'list'])).code).toBe(0);
  });

  it('exits 1 when every connection is cut as it opens (no answer at all)', async () => {
    const cutter = createServer((socket) => socket.destroy());
    await new Promise<void>((r) => cutter.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(cutter.address() as AddressInfo).port}`;
      for (const args of [['tx', 'list'], ['stats']]) {
        const r = await txc(args, { TXC_URL: url });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/^txc: /);
      }
    } finally {
      await new Promise((r) => cutter.close(r));
    }
  });

  it('keys create whose answer is lost, or a 503 store_unavailable, says the key may exist without its secret; a refused connection does not', async () => {
    // the request is read whole, then the connection is cut before any answer: it may have been done
    const lost = createHttpServer((req) => req.on('data', () => undefined).on('end', () => req.socket.destroy()));
    await new Promise<void>((r) => lost.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(lost.address() as AddressInfo).port}`;
      const r = await txc(['keys', 'create', 'lost-key', '--role', 'viewer'], { TXC_URL: url });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/key "lost-key" exists and its secret is lost: `txc keys list` shows it then/);
    } finally {
      await new Promise((r) => lost.close(r));
    }
    // a 503 store_unavailable: the log did not answer in time, and the write may still land
    let tries = 0;
    const timedOut = createHttpServer((req, res) => {
      tries++;
      req.resume().on('end', () => {
        res.writeHead(503, { 'content-type': 'application/problem+json' });
        res.end(
          JSON.stringify({
            type: '/problems/store_unavailable',
            title: 'Service Unavailable',
            status: 503,
            detail: 'the transaction log is unavailable: Query read timeout',
          }),
        );
      });
    });
    await new Promise<void>((r) => timedOut.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(timedOut.address() as AddressInfo).port}`;
      const r = await txc(['keys', 'create', 'late-key', '--role', 'viewer'], { TXC_URL: url });
      expect([r.code, tries]).toEqual([1, 1]);
      expect(r.stderr).toMatch(
        /Query read timeout; if the request got through, the key "late-key" exists and its secret is lost/,
      );
    } finally {
      await new Promise((r) => timedOut.close(r));
    }
    const nobody = `http://127.0.0.1:${await freePort()}`; // nothing listens: the connection is refused
    const refused = await txc(['keys', 'create', 'lost-key', '--role', 'viewer'], { TXC_URL: nobody });
    expect(refused.code).toBe(1);
    expect(refused.stderr).not.toMatch(/secret is lost/);
  });

  it('an API key holding a line break is a misuse (exit 2), told without the key', async () => {
    const r = await txc(['tx', 'list'], { TXC_API_KEY: `${ADMIN_KEY}\r\nX-Other: 1` });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^txc: --api-key \(or TXC_API_KEY\): .*header cannot carry/);
    expect(r.stderr).not.toContain(ADMIN_KEY);
  });

  it('a wrong --api-key gets the 401 detail and exit 1; a bad --limit is a misuse (exit 2)', async () => {
    const wrong = await txc(['--api-key', 'wrong', 'tx', 'list']);
    expect(wrong).toMatchObject({ code: 1, stdout: '' });
    const direct = await fetch(`${s.coordinator.url}/v1/transactions`, { headers: { authorization: 'Bearer wrong' } });
    expect(direct.status).toBe(401);
    expect(wrong.stderr).toBe(`txc: ${((await direct.json()) as { detail: string }).detail} (401)\n`);

    const badLimit = await txc(['tx', 'list', '--limit', 'lots']);
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toMatch(/--limit <n>.*invalid.*must be a whole number, 1 or more/);
  });

  it('participants list and stats print tables; --json prints the answers', async () => {
    const table = await txc(['participants', 'list']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^p1\s+up\s+http\s+http:\/\//m);
    // the API's answer as it is: `{items}`, as GET /v1/participants gives it
    const json = JSON.parse((await txc(['--json', 'participants', 'list'])).stdout);
    expect(json.items.map((p: { name: string }) => p.name)).toEqual(['p1']);

    const stats = await txc(['stats', '--window', '15m']);
    expect(stats.code).toBe(0);
    expect(stats.stdout).toMatch(/^window:\s+15m /m);
    expect(JSON.parse((await txc(['stats', '--json'])).stdout)).toMatchObject({ window: '1h' });
  });

  it('bench runs closed-loop sagas on a participant and reports their outcomes and latency', async () => {
    const run = await txc(['bench', '--participant', 'p1', '--count', '12', '--concurrency', '3', '--json']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ count: 12, concurrency: 3, branches: 2, statuses: { committed: 12 }, errors: 0 });
    expect(result.latencyMs.p50).toBeLessThanOrEqual(result.latencyMs.p99);
    expect(result.latencyMs.p99).toBeLessThanOrEqual(result.latencyMs.max);

    const table = await txc(['bench', '--participant', 'p1', '--count', '2']);
    expect(table.stdout).toMatch(/^outcomes:\s+committed 2$/m);
    expect(table.stdout).toMatch(/^throughput:\s+[\d.]+ sagas\/s$/m);

    const nobody = await txc(['bench', '--participant', 'nobody', '--count', '2', '--json']);
    expect(nobody.code).toBe(1);
    expect(JSON.parse(nobody.stdout)).toMatchObject({ errors: 2 });

    // --wait takes the coordinator's own range: past it is a misuse, 0 is a start that does not wait
    const tooLong = await txc(['bench', '--participant', 'p1', '--count', '1', '--wait', '70000']);
    expect([tooLong.code, tooLong.stderr]).toEqual([2, expect.stringMatching(/--wait.*0 to 60000/)]);
    const noWait = await txc(['bench', '--participant', 'p1', '--count', '2', '--wait', '0', '--json']);
    expect(noWait.code).toBe(0);
  });

  it('tx watch exits 1 when the coordinator cannot be reached, as every command does', async () => {
    const down = await txc(['--url', `http://127.0.0.1:${await freePort()}`, 'tx', 'watch']);
    expect([down.code, down.stderr]).toEqual([1, expect.stringMatching(/did not answer/)]);
  });

  it('tx list filters by protocol, id prefix and creation time', async () => {
    const id = await committedSaga();
    const byPrefix = JSON.parse((await txc(['tx', 'list', '--json', '--q', id, '--protocol', 'saga'])).stdout);
    expect(byPrefix.items.map((t: { id: string }) => t.id)).toEqual([id]);
    const otherProtocol = JSON.parse((await txc(['tx', 'list', '--json', '--q', id, '--protocol', 'tcc'])).stdout);
    expect(otherProtocol.items).toEqual([]);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const past = new Date(Date.now() - 3_600_000).toISOString();
    expect(JSON.parse((await txc(['tx', 'list', '--json', '--q', id, '--from', future])).stdout).items).toEqual([]);
    const window = JSON.parse((await txc(['tx', 'list', '--json', '--q', id, '--from', past, '--to', future])).stdout);
    expect(window.items.map((t: { id: string }) => t.id)).toEqual([id]);
    // a time without a zone is a misuse: exit 2, nothing sent
    const bad = await txc(['tx', 'list', '--from', '2026-11-29T10:00:00']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--from.*ISO time with a zone/);
  });

  it('tx replay --participant --dry-run lists the failed transactions; without --dry-run replays them', async () => {
    const participant = `cli-bulk-${Date.now()}`;
    expect((await s.api.post('/v1/participants', { name: participant, url: s.participant.url })).status).toBe(201);
    const id = unique('cli-bulk');
    s.participant.fault({ transactionId: id, branchId: 'b', phase: 'action', status: 500, times: 100 });
    s.participant.fault({ transactionId: id, branchId: 'a', phase: 'compensate', status: 503, times: 100 });
    const started = await s.api.post('/v1/transactions?wait=15000', {
      id,
      protocol: 'saga',
      retry: { maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 100 },
      branches: [
        { id: 'a', participant, payload: { n: 1 } },
        { id: 'b', participant, payload: { n: 2 } },
      ],
    });
    expect(started.body.status).toBe('failed');

    const dry = await txc(['tx', 'replay', '--participant', participant, '--dry-run', '--reason', 'check', '--json']);
    expect(dry).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, matched: 1, ids: [id] });
    const dryTable = await txc(['tx', 'replay', '--participant', participant, '--dry-run', '--reason', 'check']);
    expect(dryTable.stdout).toBe(`would replay 1 failed transaction(s):\n${id}\n`);
    expect((await s.api.get(`/v1/transactions/${id}`)).body.status).toBe('failed');

    s.participant.clearFaults();
    const replayed = await txc(['tx', 'replay', '--participant', participant, '--reason', 'fixed']);
    expect(replayed).toMatchObject({ code: 0, stderr: '' });
    expect(replayed.stdout).toMatch(new RegExp(`^${id}\\s+replayed`, 'm'));
    await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'aborted');
    // an id and a bulk filter together is a misuse
    expect((await txc(['tx', 'replay', id, '--participant', participant, '--reason', 'x'])).code).toBe(2);
  });

  it('tx watch prints status changes as they happen (JSON lines with --json) and stops after --count', async () => {
    const id = unique('cli-watch');
    const watching = txc(['tx', 'watch', '--json', '--status', 'committed', '--count', '1']);
    // the stream is subscribed once the CLI connected: start transactions until one is seen
    let seen: CliRun | null = null;
    void watching.then((r) => (seen = r));
    for (let i = 0; i < 50 && !seen; i++) {
      await s.api.post('/v1/transactions?wait=10000', {
        id: `${id}-${i}`,
        protocol: 'saga',
        branches: [{ id: 'only', participant: 'p1', payload: { n: 1 } }],
      });
      await new Promise((r) => setTimeout(r, 200));
    }
    const run = await watching;
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toEqual({
      id: expect.stringMatching(new RegExp(`^${id}-`)),
      protocol: 'saga',
      status: 'committed',
      updatedAt: expect.any(String),
    });
  });

  describe('migrate', () => {
    let db: FreshDatabase;
    beforeAll(async () => {
      db = await freshDatabase('cli_migrate');
    });
    afterAll(() => db?.drop());

    it('creates the tables on a fresh database, and is a no-op the second time', async () => {
      const first = await txc(['migrate'], { DATABASE_URL: db.url });
      expect(first).toMatchObject({ code: 0, stderr: '' });
      expect(first.stdout).toMatch(/^applied /m);

      const pg = new Client({ connectionString: db.url });
      await pg.connect();
      try {
        const r = await pg.query("SELECT to_regclass('public.txc_transactions') AS t");
        expect(r.rows[0].t).toBe('txc_transactions');
      } finally {
        await pg.end();
      }
      expect(await txc(['migrate'], { DATABASE_URL: db.url })).toMatchObject({
        code: 0,
        stdout: 'already up to date\n',
      });
      expect((await txc(['migrate'], { DATABASE_URL: '' })).code).toBe(2);
    });
  });
});
