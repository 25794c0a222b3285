import { Pool } from 'pg';
import { DEFAULT_3PC_TIMER_MARGIN_MS, phasePaths, signBody } from '#participant';
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
  until,
} from '#testing';

const SECRET = 'sdk-3pc-secret-0123456789';

/**
 * The participant-side 3PC timers of a NestJS participant's `@ThreePhase*` handlers (the bank of
 * libs/participant/test-app): a branch that voted yes and hears nothing past its deadline aborts on
 * its own, one that acknowledged pre-commit commits on its own, and a restart resumes both. The
 * silent coordinator is played by sending the phase calls straight to the bank and then nothing.
 */
describe('participant SDK: 3PC timers of a NestJS participant', () => {
  let s: TestStack;
  let bankDb: FreshDatabase;
  let db: Pool;
  let bank: BankProcess;
  let bankEnv: Record<string, string>;
  let bankUrl: string;

  beforeAll(async () => {
    s = await startTestStack('participant_sdk_3pc');
    bankDb = await freshDatabase('sdk_bank_3pc');
    const port = await freePort();
    bankUrl = `http://127.0.0.1:${port}`;
    bankEnv = {
      PORT: String(port),
      DATABASE_URL: bankDb.url,
      COORDINATOR_URL: s.api.base,
      PARTICIPANT_NAME: 'bank',
      PARTICIPANT_SECRET: SECRET,
    };
    bank = await startBank(bankEnv);
    db = new Pool({ connectionString: bankDb.url, max: 2 });
    db.on('error', () => undefined);
  });

  afterAll(async () => {
    await stopBank(bank);
    await db?.end();
    await s?.close();
    await bankDb?.drop();
  });

  const ledger = () => bankLedger(db);
  const open = (balance: number) => ledger().open(balance);
  const balance = (id: string) => ledger().balance(id);
  const ops = (transactionId: string) => ledger().ops(transactionId);

  /** Sends one phase of branch `hold` to the bank as the coordinator would, signed. */
  async function send(transactionId: string, phase: string, account: string, deadline?: Date) {
    const body = JSON.stringify({
      transactionId,
      branchId: 'hold',
      protocol: '3pc',
      phase,
      attempt: 1,
      ...(deadline ? { deadline: deadline.toISOString() } : {}),
      payload: { account, amount: 10 },
    });
    return apiClient(bankUrl).raw('POST', `/3pc/hold/${phase}`, body, { 'txn-signature': signBody(SECRET, body) });
  }

  const soon = () => new Date(Date.now() + 1500);
  const txId = (label: string) => `${label}-${Math.random().toString(36).slice(2)}`;

  it('runs a whole 3PC transfer through a real coordinator, each phase once', async () => {
    const a = await open(100);
    const tx = await s.api.post('/v1/transactions?wait=10000', {
      protocol: '3pc',
      branches: [
        { id: 'hold', participant: 'bank', payload: { account: a, amount: 10 }, paths: phasePaths('3pc', 'hold') },
      ],
    });
    expect([tx.status, tx.body.status]).toEqual([200, 'committed']);
    expect(await ops(tx.body.id)).toEqual(['hold:can-commit', 'hold:do-commit', 'hold:pre-commit']);
    expect(await balance(a)).toBe(90);
  });

  it('commits a 3PC action with only a can-commit handler: the module answers its other phases', async () => {
    const tx = await s.api.post('/v1/transactions?wait=10000', {
      protocol: '3pc',
      branches: [{ id: 'vote', participant: 'bank', payload: {}, paths: phasePaths('3pc', 'lite') }],
    });
    expect([tx.status, tx.body.status]).toEqual([200, 'committed']);
    expect(await ops(tx.body.id)).toEqual(['vote:can-commit']);
    const vote = (await db.query('SELECT status FROM txc_3pc_branch WHERE transaction_id = $1', [tx.body.id])).rows;
    expect(vote).toEqual([{ status: 'committed' }]);
  });

  it('a branch that voted yes and hears nothing by its deadline aborts on its own, once', async () => {
    const a = await open(100);
    const id = txId('voted');
    const vote = await send(id, 'can-commit', a, soon());
    expect([vote.status, vote.body.kind]).toEqual([200, 'applied']);
    expect(await balance(a)).toBe(90);

    await until(async () => (await ops(id)).includes('hold:abort by timer'), 15_000, 'the own abort');
    expect(await ops(id)).toEqual(['hold:abort by timer', 'hold:can-commit']);
    expect(await balance(a)).toBe(100);
    // the coordinator's own abort, late, agrees: nothing happens twice
    const abort = await send(id, 'abort', a);
    expect([abort.status, abort.body.kind]).toEqual([200, 'duplicate']);
    // and a pre-commit that finally arrives is refused
    expect((await send(id, 'pre-commit', a)).status).toBe(409);
    expect(await balance(a)).toBe(100);
  });

  it('a pre-committed branch commits on its own; a contrary abort after it is acknowledged and changes nothing', async () => {
    const a = await open(100);
    const id = txId('pre');
    expect((await send(id, 'can-commit', a, soon())).status).toBe(200);
    expect((await send(id, 'pre-commit', a, soon())).status).toBe(200);

    await until(async () => (await ops(id)).includes('hold:do-commit by timer'), 15_000, 'the own commit');
    expect(await ops(id)).toEqual(['hold:can-commit', 'hold:do-commit by timer', 'hold:pre-commit']);
    expect(await balance(a)).toBe(90);
    const abort = await send(id, 'abort', a);
    expect([abort.status, abort.body.kind, abort.body.status, abort.body.resolvedBy]).toEqual([
      200,
      'conflict',
      'committed',
      'timer',
    ]);
    const commit = await send(id, 'do-commit', a);
    expect([commit.status, commit.body.kind]).toEqual([200, 'duplicate']);
    expect(await balance(a)).toBe(90);
    expect(await ops(id)).toEqual(['hold:can-commit', 'hold:do-commit by timer', 'hold:pre-commit']);
  });

  it('a pre-committed branch of a participant killed before its deadline commits when it starts again', async () => {
    const a = await open(100);
    const id = txId('restart');
    const deadline = new Date(Date.now() + 2000);
    expect((await send(id, 'can-commit', a, deadline)).status).toBe(200);
    expect((await send(id, 'pre-commit', a, deadline)).status).toBe(200);

    const exited = new Promise((resolve) => bank.child.once('exit', resolve));
    bank.child.kill('SIGKILL');
    await exited;
    const due = deadline.getTime() + DEFAULT_3PC_TIMER_MARGIN_MS + 300;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
    expect(await ops(id)).toEqual(['hold:can-commit', 'hold:pre-commit']); // nobody was there to act

    bank = await startBank(bankEnv);
    // resolved during start-up, before the service answers anything
    expect(await ops(id)).toEqual(['hold:can-commit', 'hold:do-commit by timer', 'hold:pre-commit']);
    expect(await balance(a)).toBe(90);
  });
});
