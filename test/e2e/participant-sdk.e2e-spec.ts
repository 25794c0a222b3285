import { Pool } from 'pg';
import { phasePaths, signBody } from '#participant';
import {
  apiClient,
  bankLedger,
  freePort,
  freshDatabase,
  startBank,
  startTestStack,
  stopBank,
  type BankProcess,
  type FreshDatabase,
  type TestStack,
} from '#testing';

const SECRET = 'sdk-e2e-secret-0123456789';

describe('participant SDK: a NestJS participant behind a real coordinator', () => {
  let s: TestStack;
  let bankDb: FreshDatabase;
  let db: Pool;
  let bank: BankProcess;
  let bankUrl: string;

  beforeAll(async () => {
    s = await startTestStack('participant_sdk');
    bankDb = await freshDatabase('sdk_bank');
    const port = await freePort(); // nobody listens on it yet: the participant registers its URL before it listens
    bankUrl = `http://127.0.0.1:${port}`;
    bank = await startBank({
      PORT: String(port),
      DATABASE_URL: bankDb.url,
      COORDINATOR_URL: s.api.base,
      PARTICIPANT_NAME: 'bank',
      PARTICIPANT_SECRET: SECRET,
      TTL_SECONDS: '5',
      HEARTBEAT_MS: '200',
    });
    db = new Pool({ connectionString: bankDb.url, max: 2 });
    // the DROP ... WITH (FORCE) at teardown may end an idle connection: expected
    db.on('error', () => undefined);
  });

  afterAll(async () => {
    await stopBank(bank); // a graceful stop: the heartbeat stops, the registration stays
    await db?.end();
    await s?.close();
    await bankDb?.drop();
  });

  const ledger = () => bankLedger(db);
  const open = (balance: number) => ledger().open(balance);
  const balance = (id: string) => ledger().balance(id);
  const ops = (transactionId: string) => ledger().ops(transactionId);

  const branch = (id: string, protocol: 'saga' | 'tcc', action: string, account: string, amount: number) => ({
    id,
    participant: 'bank',
    payload: { account, amount },
    paths: phasePaths(protocol, action),
  });

  it('registered itself with its secret and serves its decorated handlers', async () => {
    const r = await s.api.get('/v1/participants/bank');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: 'bank', url: `${bankUrl}/`, ttlSeconds: 5, hasSecret: true, status: 'up' });
  });

  it('commits a saga: each balance changes once', async () => {
    const [a, b] = [await open(100), await open(0)];
    const r = await s.api.post('/v1/transactions?wait=10000', {
      protocol: 'saga',
      branches: [branch('debit', 'saga', 'debit', a, 30), branch('credit', 'saga', 'credit', b, 30)],
    });
    expect(r.body.status).toBe('committed');
    expect(r.body.branches[0].result).toEqual({ kind: 'applied', result: { balance: 70 } });
    expect([await balance(a), await balance(b)]).toEqual([70, 30]);
    expect(await ops(r.body.id)).toEqual(['credit:action', 'debit:action']);
  });

  it('aborts a saga on a BusinessRejection and compensates the earlier step once', async () => {
    const [b, poor] = [await open(0), await open(5)];
    const r = await s.api.post('/v1/transactions?wait=10000', {
      protocol: 'saga',
      branches: [branch('credit', 'saga', 'credit', b, 10), branch('debit', 'saga', 'debit', poor, 1000)],
    });
    expect(r.body.status).toBe('aborted');
    expect(r.body.branches.map((x: any) => `${x.status}/${x.phase}`)).toEqual([
      'completed/compensate',
      'rejected/action',
    ]);
    expect(JSON.stringify(r.body.events)).toContain('insufficient funds');
    expect([await balance(b), await balance(poor)]).toEqual([0, 5]);
    expect(await ops(r.body.id)).toEqual(['credit:action', 'credit:compensate']);
  });

  it('confirms a TCC transfer, and cancels the held branch when another try says no', async () => {
    const [a, b, poor] = [await open(50), await open(20), await open(1)];
    const ok = await s.api.post('/v1/transactions?wait=10000', {
      protocol: 'tcc',
      branches: [branch('hold', 'tcc', 'hold', a, 20)],
    });
    expect(ok.body.status).toBe('committed');
    expect(await ops(ok.body.id)).toEqual(['hold:confirm', 'hold:try']);
    expect(await balance(a)).toBe(30);

    // interactive, so the held branch has surely tried before the other one says no
    const id = `tcc-no-${Date.now()}`;
    expect((await s.api.post('/v1/transactions', { id, protocol: 'tcc', mode: 'interactive' })).status).toBe(201);
    const held = await s.api.post(`/v1/transactions/${id}/branches`, branch('held', 'tcc', 'hold', b, 20));
    expect(held.status).toBe(200);
    const short = await s.api.post(`/v1/transactions/${id}/branches`, branch('short', 'tcc', 'hold', poor, 10));
    expect(short.status).toBe(409);
    await s.api.until(`/v1/transactions/${id}`, (t: { status: string }) => t.status === 'aborted');
    expect(await ops(id)).toEqual(['held:cancel', 'held:try']);
    expect(await balance(b)).toBe(20);
    expect(await balance(poor)).toBe(1);
  });

  it('applies a duplicate delivery once, and refuses an unsigned one', async () => {
    const a = await open(100);
    const body = JSON.stringify({
      transactionId: `dup-${Date.now()}`,
      branchId: 'debit',
      protocol: 'saga',
      phase: 'action',
      attempt: 1,
      payload: { account: a, amount: 10 },
    });
    const direct = apiClient(bankUrl);
    const signed = () => direct.raw('POST', '/saga/debit/action', body, { 'txn-signature': signBody(SECRET, body) });
    const first = await signed();
    const second = await signed();
    expect([first.status, first.body.kind, second.status, second.body.kind]).toEqual([
      200,
      'applied',
      200,
      'duplicate',
    ]);
    const unsigned = await direct.raw('POST', '/saga/debit/action', body.replace('"amount":10', '"amount":90'));
    expect(unsigned.status).toBe(401);
    expect(unsigned.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await balance(a)).toBe(90);
  });

  it('answers a body that is not JSON with problem invalid_call (400), after the signature check', async () => {
    const direct = apiClient(bankUrl);
    for (const body of ['{"transactionId": ', '']) {
      const signed = await direct.raw('POST', '/saga/debit/action', body, { 'txn-signature': signBody(SECRET, body) });
      expect(signed.status).toBe(400);
      expect(signed.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(signed.body).toMatchObject({ type: '/problems/invalid_call', status: 400 });
      const unsigned = await direct.raw('POST', '/saga/debit/action', body);
      expect(unsigned.status).toBe(401);
      expect(unsigned.body.type).toBe('/problems/invalid_signature');
    }
  });

  it("delivers a message to @MessageHandler consumers once each; a consumer's no is not final, so a replay applies it", async () => {
    const a = await open(0);
    const b = await open(20);
    const id = `msg-${Date.now()}`;
    const body = {
      id,
      protocol: 'msg',
      retry: { maxAttempts: 2, initialBackoffMs: 100, maxBackoffMs: 200 },
      branches: [
        { id: 'pay-in', participant: 'bank', payload: { account: a, amount: 10 }, paths: phasePaths('msg', 'credit') },
        { id: 'pay-out', participant: 'bank', payload: { account: b, amount: 50 }, paths: phasePaths('msg', 'debit') },
      ],
    };
    const failed = await s.api.post('/v1/transactions?wait=10000', body);
    expect(failed.body.status).toBe('failed');
    expect(failed.body.branches.map((x: any) => x.status)).toEqual(['succeeded', 'rejected']);
    expect(await balance(b)).toBe(20); // the refused debit left nothing behind
    await db.query('UPDATE accounts SET balance = 100 WHERE id = $1', [b]);
    expect((await s.api.post(`/v1/transactions/${id}/replay`, {})).status).toBe(202);
    const done = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'committed');
    expect(done.branches.map((x: any) => x.status)).toEqual(['succeeded', 'succeeded']);
    expect(await balance(a)).toBe(10);
    expect(await balance(b)).toBe(50);
    expect(await ops(id)).toEqual(['pay-in:action', 'pay-out:action']);
  });

  it("serves its outbox's check: committed for a committed marker, rolledback (written, fencing a late commit) otherwise", async () => {
    const committed = `msg-sent-${Date.now()}`;
    const lost = `msg-lost-${Date.now()}`;
    await db.query(`INSERT INTO txc_outbox (transaction_id, state) VALUES ($1, 'committed')`, [committed]);
    const message = (id: string) => ({
      id,
      protocol: 'msg',
      mode: 'prepared',
      checkAfterMs: 300,
      check: { participant: 'bank', path: '/msg/check' },
      branches: [{ id: 'log', participant: 'p1' }],
    });
    await s.api.post('/v1/transactions', message(committed));
    await s.api.post('/v1/transactions', message(lost));
    const delivered = await s.api.until(`/v1/transactions/${committed}`, (t: any) => t.status === 'committed');
    expect(delivered.check.answer).toEqual({ state: 'committed' });
    const aborted = await s.api.until(`/v1/transactions/${lost}`, (t: any) => t.status === 'aborted');
    expect(aborted.check.answer).toEqual({ state: 'rolledback' });
    expect(s.participant.callsFor(lost)).toEqual([]);
    // the sender's commit, had it come late, fails on the check's marker
    await expect(
      db.query(`INSERT INTO txc_outbox (transaction_id, state) VALUES ($1, 'committed')`, [lost]),
    ).rejects.toMatchObject({ code: '23505' });
  });

  it('renews its lease by heartbeat: lastSeenAt moves', async () => {
    const before = (await s.api.get('/v1/participants/bank')).body.lastSeenAt as string;
    await s.api.until('/v1/participants/bank', (p: { lastSeenAt: string }) => p.lastSeenAt > before, 5000);
  });

  // the heartbeat stopped only once the HTTP server had closed, which waited for the coordinator's
  // idle keep-alive connection of the call in flight at SIGTERM: about a minute of renewed lease
  it('stopped with SIGTERM during a call: answers it, renews its lease no more, and exits', async () => {
    const port = await freePort();
    const other = await startBank({
      PORT: String(port),
      DATABASE_URL: bankDb.url,
      COORDINATOR_URL: s.api.base,
      PARTICIPANT_NAME: 'bank-stopping',
      TTL_SECONDS: '5',
      HEARTBEAT_MS: '200',
    });
    const a = await open(100);
    const debit = { ...branch('d', 'saga', 'debit', a, 10), participant: 'bank-stopping' };
    const started = await s.api.post('/v1/transactions', {
      protocol: 'saga',
      branches: [{ ...debit, payload: { account: a, amount: 10, holdMs: 1_500 } }],
    });
    const id = started.body.id as string;
    await s.api.until(`/v1/transactions/${id}`, (t: any) => t.events.some((e: any) => e.type === 'call.started'));
    const exited = new Promise((done) => other.child.once('exit', done));
    other.child.kill('SIGTERM');
    const done = await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'committed', 10_000);
    expect(done.status).toBe('committed');
    // no renewal once the call is answered (a heartbeat already out may still land)
    await new Promise((r) => setTimeout(r, 500));
    const seen = (await s.api.get('/v1/participants/bank-stopping')).body.lastSeenAt as string;
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await s.api.get('/v1/participants/bank-stopping')).body.lastSeenAt).toBe(seen);
    // well within the coordinator's keep-alive (60 s) that held its HTTP server open
    const gone = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 20_000))]);
    expect(gone).toBe(true);
    expect(await balance(a)).toBe(90);
  }, 60_000);
});
