import { Client } from 'pg';
import { apiClient, sagaBody, startTestStack, type TestStack } from '#testing';

describe('idempotency (Idempotency-Key and caller-chosen ids)', () => {
  let s: TestStack;
  let pg: Client;
  beforeAll(async () => {
    s = await startTestStack('idem');
    pg = new Client({ connectionString: s.db.url });
    await pg.connect();
  });
  afterAll(async () => {
    await pg.end();
    await s.close();
  });

  const count = async (sql: string, params: unknown[] = []) => Number((await pg.query(sql, params)).rows[0].n);

  it('50 concurrent identical POSTs with one key make one transaction and equal responses', async () => {
    const key = `k-${Date.now()}`;
    const body = sagaBody(['a', 'b']);
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => s.api.post('/v1/transactions', body, { 'idempotency-key': key })),
    );
    const first = responses[0];
    expect(first.status).toBe(201);
    for (const r of responses) {
      expect(r.status).toBe(first.status);
      expect(r.body).toEqual(first.body);
      expect(r.headers.get('location')).toBe(first.headers.get('location'));
    }
    expect(responses.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(49);
    expect(await count(`SELECT count(*) AS n FROM txc_transactions WHERE id = $1`, [first.body.id])).toBe(1);
    expect(await count(`SELECT count(*) AS n FROM txc_idempotency_keys WHERE key = $1`, [key])).toBe(1);
    await s.api.until(`/v1/transactions/${first.body.id}`, (t: any) => t.status === 'committed');
    // one transaction, so each action took effect once (a delivery may repeat: on a loaded machine the
    // instance can fence itself for a moment under the test's short INSTANCE_TTL_MS and re-drive it)
    for (const b of ['a', 'b']) expect(s.participant.effects(first.body.id, b)).toEqual({ applied: 1, compensated: 0 });
  });

  it('the same key with another body is 422 and writes nothing', async () => {
    const key = `k2-${Date.now()}`;
    const first = await s.api.post('/v1/transactions', sagaBody(['a']), { 'idempotency-key': key });
    expect(first.status).toBe(201);
    const before = await count(`SELECT count(*) AS n FROM txc_transactions`);
    const other = await s.api.post('/v1/transactions', sagaBody(['a', 'b']), { 'idempotency-key': key });
    expect(other.status).toBe(422);
    expect(other.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(other.body.type).toBe('/problems/idempotency_key_reused');
    expect(await count(`SELECT count(*) AS n FROM txc_transactions`)).toBe(before);
  });

  it('a repeat with ?wait replays the first answer, status included', async () => {
    const key = `k3-${Date.now()}`;
    const first = await s.api.post('/v1/transactions?wait=5000', sagaBody(['a']), { 'idempotency-key': key });
    expect(first.status).toBe(200);
    const again = await s.api.post('/v1/transactions?wait=5000', sagaBody(['a']), { 'idempotency-key': key });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
  });

  it('replays the first answer byte for byte, its keys in their order', async () => {
    const post = (path: string, key: string) =>
      fetch(s.api.base + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(sagaBody(['a'])),
      }).then(async (r) => ({ status: r.status, text: await r.text() }));
    // stored by a write of its own (201), and by the write that settles the saga (?wait, 200)
    for (const [path, status] of [
      ['/v1/transactions', 201],
      ['/v1/transactions?wait=5000', 200],
    ] as const) {
      const key = `k-bytes-${status}-${Date.now()}`;
      const first = await post(path, key);
      expect(first.status).toBe(status);
      const again = await post(path, key);
      expect(again).toEqual(first);
    }
  });

  it('a start that waited for its saga to settle has its answer stored by the settling write itself', async () => {
    const key = `k3b-${Date.now()}`;
    const first = await s.api.post('/v1/transactions?wait=5000', sagaBody(['a', 'b']), { 'idempotency-key': key });
    expect(first.status).toBe(200);
    expect(first.body.status).toBe('committed');
    // one Postgres transaction wrote both rows: the same xmin (a respond op of its own commits later)
    const { rows } = await pg.query(
      `SELECT k.xmin::text = t.xmin::text AS together, k.response_status, k.response_body->>'txc:json' AS response_text
         FROM txc_idempotency_keys k JOIN txc_transactions t ON t.id = k.transaction_id WHERE k.key = $1`,
      [key],
    );
    // the body is kept as its JSON text (jsonb would reorder its keys)
    expect(rows.map((r) => ({ ...r, response_text: JSON.parse(r.response_text) }))).toEqual([
      { together: true, response_status: 200, response_text: first.body },
    ]);
    const again = await s.api.post('/v1/transactions?wait=5000', sagaBody(['a', 'b']), { 'idempotency-key': key });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    expect(again.body).toEqual(first.body);
  });

  /** A keyed saga of four steps whose actions each answer 1.5 s late: a start with ?wait waits about 6 s. */
  function slowSaga(label: string) {
    const key = `${label}-${Date.now()}`;
    const body = { ...sagaBody(['a', 'b', 'c', 'd']), id: `idem-${label}-${Date.now()}` };
    s.participant.fault({
      transactionId: body.id,
      phase: 'action',
      status: 200,
      times: 4,
      when: 'after',
      delayMs: 1_500,
    });
    return { key, body };
  }

  it('a start still running when a repeat came 5.5 s in gives the answer the key holds', async () => {
    const { key, body } = slowSaga('slow');
    const first = s.api.post('/v1/transactions?wait=20000', body, { 'idempotency-key': key });
    await new Promise((r) => setTimeout(r, 5_500));
    const repeat = await s.api.post('/v1/transactions?wait=20000', body, { 'idempotency-key': key });
    const answer = await first;
    const { rows } = await pg.query(
      `SELECT response_status, response_body->>'txc:json' AS response_text FROM txc_idempotency_keys WHERE key = $1`,
      [key],
    );
    // whoever answered first, both requests and the key agree
    expect(answer.status).toBe(rows[0].response_status);
    expect(answer.body).toEqual(JSON.parse(rows[0].response_text));
    expect(repeat.status).toBe(answer.status);
    expect(repeat.body).toEqual(answer.body);
    expect(answer.headers.get('idempotent-replayed')).toBeNull();
  }, 30_000);

  it('a repeat on another instance waits for the first answer of a start still waiting for its saga', async () => {
    // the first request waits past 5 s; the repeat arrives on another instance
    const other = s.coordinator.sibling();
    const elsewhere = apiClient(await other.start({ LOG_LEVEL: 'warn' }));
    try {
      const { key, body } = slowSaga('elsewhere');
      const first = s.api.post('/v1/transactions?wait=20000', body, { 'idempotency-key': key });
      await new Promise((r) => setTimeout(r, 1_000));
      const repeat = await elsewhere.post('/v1/transactions?wait=20000', body, { 'idempotency-key': key });
      const answer = await first;
      expect([answer.status, answer.body.status]).toEqual([200, 'committed']);
      expect(answer.headers.get('idempotent-replayed')).toBeNull();
      expect([repeat.status, repeat.body.status]).toEqual([200, 'committed']);
      expect(repeat.headers.get('idempotent-replayed')).toBe('true');
      expect(repeat.body).toEqual(answer.body);
    } finally {
      await other.stop();
    }
  }, 40_000);

  it('a repeat with a key and a caller-chosen id replays the first answer, not the transaction as it is now', async () => {
    const key = `k4-${Date.now()}`;
    const body = { ...sagaBody(['a']), id: `idem-both-${Date.now()}` };
    const first = await s.api.post('/v1/transactions', body, { 'idempotency-key': key });
    expect(first.status).toBe(201);
    await s.api.until(`/v1/transactions/${body.id}`, (t: any) => t.status === 'committed');
    const again = await s.api.post('/v1/transactions', body, { 'idempotency-key': key });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
  });

  it('a caller-chosen id is a natural idempotency key: same body 200, other body 409', async () => {
    const id = `order-${Date.now()}`;
    const created = await s.api.post('/v1/transactions?wait=5000', { id, ...sagaBody(['a']) });
    expect(created.status).toBe(200);
    const same = await s.api.post('/v1/transactions', { id, ...sagaBody(['a']) });
    expect(same.status).toBe(200);
    expect(same.body.id).toBe(id);
    expect(same.body.status).toBe('committed');
    const other = await s.api.post('/v1/transactions', { id, ...sagaBody(['b']) });
    expect(other.status).toBe(409);
    expect(other.body.type).toBe('/problems/transaction_conflict');
    expect(s.participant.callsFor(id, 'action')).toHaveLength(1);
  });

  it('concurrent POSTs with one caller-chosen id start it once', async () => {
    const id = `race-${Date.now()}`;
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => s.api.post('/v1/transactions', { id, ...sagaBody(['a']) })),
    );
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    expect(responses.every((r) => r.status === 201 || r.status === 200)).toBe(true);
    await s.api.until(`/v1/transactions/${id}`, (t: any) => t.status === 'committed');
    expect(s.participant.callsFor(id, 'action')).toHaveLength(1);
  });

  it('keys work on the other mutating POSTs too', async () => {
    const key = `k4-${Date.now()}`;
    const body = { name: 'p-idem', url: s.participant.url };
    const a = await s.api.post('/v1/participants', body, { 'idempotency-key': key });
    const b = await s.api.post('/v1/participants', body, { 'idempotency-key': key });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(b.body).toEqual(a.body);
    expect(
      (await s.api.post('/v1/participants', { ...body, url: 'http://127.0.0.2:1' }, { 'idempotency-key': key })).status,
    ).toBe(422);
  });

  it('20 concurrent identical aborts with one key act once and answer alike', async () => {
    const id = `abort-once-${Date.now()}`;
    const started = await s.api.post('/v1/transactions', { id, protocol: 'tcc', mode: 'interactive' });
    expect(started.status).toBe(201);
    const key = `k-abort-${Date.now()}`;
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        s.api.post(`/v1/transactions/${id}/abort`, { reason: 'once' }, { 'idempotency-key': key }),
      ),
    );
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([202]));
    const events = (await s.api.get(`/v1/transactions/${id}`)).body.events;
    expect(events.filter((e: { type: string }) => e.type === 'operator.abort')).toHaveLength(1);
  });

  it('a request refused as invalid keeps nothing under its key: the corrected request with the key goes through', async () => {
    const key = `k-invalid-${Date.now()}`;
    const bad = await s.api.post(
      '/v1/participants',
      { name: 'Bad Name', url: s.participant.url },
      { 'idempotency-key': key },
    );
    expect([bad.status, bad.body.errors?.[0]?.field]).toEqual([422, 'name']);
    expect(await count('SELECT count(*) AS n FROM txc_idempotency_keys WHERE key = $1', [key])).toBe(0);
    const good = await s.api.post(
      '/v1/participants',
      { name: 'p-fixed', url: s.participant.url },
      { 'idempotency-key': key },
    );
    expect(good.status).toBe(201);
    // a refusal about the transaction, not the request, is its answer: kept, and replayed
    const replayKey = `k-replay-${Date.now()}`;
    const refused = await s.api.post(
      '/v1/transactions/no-such-txn/replay',
      { reason: 'r' },
      { 'idempotency-key': replayKey },
    );
    expect(refused.status).toBe(404);
    const again = await s.api.post(
      '/v1/transactions/no-such-txn/replay',
      { reason: 'r' },
      { 'idempotency-key': replayKey },
    );
    expect([again.status, again.headers.get('idempotent-replayed')]).toEqual([404, 'true']);
  });

  it('a provisional answer ("not in yet, retry") is not kept under its key: the repeat gets the outcome', async () => {
    const id = `idem-provisional-${Date.now()}`;
    const key = `k5-${Date.now()}`;
    await s.api.post('/v1/transactions', {
      id,
      protocol: 'tcc',
      mode: 'interactive',
      retry: { maxAttempts: 5, initialBackoffMs: 200, maxBackoffMs: 200 },
    });
    // the first try is answered 503: the registration that waits for no retry answers 202
    s.participant.fault({ transactionId: id, branchId: 'b1', phase: 'try', status: 503, times: 1 });
    const branch = { id: 'b1', participant: 'p1', payload: { n: 1 } };
    const first = await s.api.post(`/v1/transactions/${id}/branches?wait=0`, branch, { 'idempotency-key': key });
    expect(first.status).toBe(202);
    await s.api.until(`/v1/transactions/${id}`, (t: any) => t.branches[0]?.status === 'succeeded');
    const again = await s.api.post(`/v1/transactions/${id}/branches`, branch, { 'idempotency-key': key });
    expect({ status: again.status, branch: again.body.status }).toEqual({ status: 200, branch: 'succeeded' });
    expect(
      await count(`SELECT count(*) AS n FROM txc_idempotency_keys WHERE key = $1 AND response_status = 202`, [key]),
    ).toBe(0);
  });

  // both were 409 transaction_conflict ("is committed", "is aborted"): the engine refuses a registration
  // once the transaction is decided, before it looks at the branches it already has
  it('a repeated registration after the transaction ended is answered as its branch is: 200 said yes, 409 branch_rejected', async () => {
    const register = (id: string, branch: string, key: string) =>
      s.api.post(
        `/v1/transactions/${id}/branches?wait=0`,
        { id: branch, participant: 'p1', payload: {} },
        { 'idempotency-key': key },
      );
    const committed = `idem-reg-committed-${Date.now()}`;
    await s.api.post('/v1/transactions', {
      id: committed,
      protocol: 'tcc',
      mode: 'interactive',
      retry: { maxAttempts: 5, initialBackoffMs: 200, maxBackoffMs: 200 },
    });
    s.participant.fault({ transactionId: committed, branchId: 'b1', phase: 'try', status: 503, times: 1 });
    expect((await register(committed, 'b1', `${committed}-k`)).status).toBe(202);
    await s.api.until(`/v1/transactions/${committed}`, (t: any) => t.branches[0]?.status === 'succeeded');
    expect((await s.api.post(`/v1/transactions/${committed}/commit?wait=10000`)).body.status).toBe('committed');
    const yes = await register(committed, 'b1', `${committed}-k`);
    expect([yes.status, yes.body.id]).toEqual([200, 'b1']);

    const timedOut = `idem-reg-timeout-${Date.now()}`;
    await s.api.post('/v1/transactions', {
      id: timedOut,
      protocol: 'tcc',
      mode: 'interactive',
      timeoutMs: 1_500,
      retry: { maxAttempts: 8, initialBackoffMs: 5_000, maxBackoffMs: 5_000 },
    });
    s.participant.fault({ transactionId: timedOut, branchId: 'b1', phase: 'try', status: 503, times: 1 });
    expect((await register(timedOut, 'b1', `${timedOut}-k`)).status).toBe(202);
    await s.api.until(`/v1/transactions/${timedOut}`, (t: any) => t.status === 'aborted');
    const no = await register(timedOut, 'b1', `${timedOut}-k`);
    expect([no.status, no.body.type]).toEqual([409, '/problems/branch_rejected']);
    expect(no.body.detail).toMatch(/timed out/);
    // another body for a known branch is still a conflict
    const other = await s.api.post(`/v1/transactions/${timedOut}/branches`, {
      id: 'b1',
      participant: 'p1',
      payload: { n: 2 },
    });
    expect([other.status, other.body.type]).toEqual([409, '/problems/transaction_conflict']);
  });

  it('a repeat arriving while a start waits for its saga gets that start’s own answer (200 once settled)', async () => {
    // two steps of 3 s: the start with ?wait is still waiting when the repeat comes, and past 5 s
    const key = `k6-${Date.now()}`;
    const body = { ...sagaBody(['a', 'b']), id: `idem-wait-${Date.now()}` };
    s.participant.fault({
      transactionId: body.id,
      phase: 'action',
      status: 200,
      times: 2,
      when: 'after',
      delayMs: 3_000,
    });
    const first = s.api.post('/v1/transactions?wait=20000', body, { 'idempotency-key': key });
    await new Promise((r) => setTimeout(r, 500));
    const repeat = await s.api.post('/v1/transactions?wait=20000', body, { 'idempotency-key': key });
    const answer = await first;
    expect([answer.status, answer.body.status]).toEqual([200, 'committed']);
    expect([repeat.status, repeat.body.status]).toEqual([200, 'committed']);
    expect(repeat.headers.get('idempotent-replayed')).toBe('true');
  }, 30_000);

  it('repeats waiting on a provisional answer ("not in yet, retry") get an answer, not 409 after 30 s', async () => {
    const id = `idem-provisional-many-${Date.now()}`;
    const key = `k7-${Date.now()}`;
    await s.api.post('/v1/transactions', {
      id,
      protocol: 'tcc',
      mode: 'interactive',
      retry: { maxAttempts: 5, initialBackoffMs: 500, maxBackoffMs: 500 },
    });
    // the try answers 503 after 1 s: the registration answers 202 while its retry is pending
    s.participant.fault({ transactionId: id, branchId: 'b1', phase: 'try', status: 503, times: 1, delayMs: 1_000 });
    const branch = { id: 'b1', participant: 'p1', payload: { n: 1 } };
    const sent = [0, 200, 400, 600].map(async (after) => {
      await new Promise((r) => setTimeout(r, after));
      return s.api.post(`/v1/transactions/${id}/branches`, branch, { 'idempotency-key': key });
    });
    const answers = await Promise.all(sent);
    expect(answers.map((a) => a.status).filter((status) => status !== 200 && status !== 202)).toEqual([]);
    expect(s.participant.callsFor(id, 'try').length).toBeLessThanOrEqual(2); // the first try and its one retry
  }, 60_000);

  it('a start that finds its id taken records its key: the key then refuses another body', async () => {
    const id = `idem-id-then-key-${Date.now()}`;
    const key = `k8-${Date.now()}`;
    expect((await s.api.post('/v1/transactions', { ...sagaBody(['a']), id })).status).toBe(201);
    const keyed = await s.api.post('/v1/transactions', { ...sagaBody(['a']), id }, { 'idempotency-key': key });
    expect(keyed.status).toBe(200);
    const again = await s.api.post('/v1/transactions', { ...sagaBody(['a']), id }, { 'idempotency-key': key });
    expect([again.status, again.headers.get('idempotent-replayed')]).toEqual([200, 'true']);
    const other = await s.api.post(
      '/v1/transactions',
      { ...sagaBody(['a']), id: `${id}-2` },
      { 'idempotency-key': key },
    );
    expect(other.status).toBe(422);
    expect(await count(`SELECT count(*) AS n FROM txc_transactions WHERE id = $1`, [`${id}-2`])).toBe(0);
  });

  /**
   * A key claimed by a start whose process died before it stored the answer, planted as that start
   * left it 3 min ago (a repeat runs such a request again after 2 min): `transactionId` as the create
   * recorded it, or null when the id existed before the key was claimed. The request hash is the one
   * the coordinator computed for the same body under another key.
   */
  async function keyOfDeadStart(body: object, transactionId: string | null): Promise<string> {
    const probe = `probe-${Date.now()}`;
    expect((await s.api.post('/v1/transactions', body, { 'idempotency-key': probe })).status).toBeLessThan(300);
    const key = `dead-${Date.now()}`;
    await pg.query(
      `INSERT INTO txc_idempotency_keys (key, request_hash, expires_at, created_at, transaction_id)
       SELECT $1, request_hash, expires_at, now() - interval '3 minutes', $2 FROM txc_idempotency_keys WHERE key = $3`,
      [key, transactionId, probe],
    );
    return key;
  }

  it('a repeat of a start whose process died waits as its own ?wait says, and keeps the settled answer', async () => {
    const { body } = slowSaga('died');
    const key = await keyOfDeadStart(body, body.id);
    const repeat = await s.api.post('/v1/transactions?wait=20000', body, { 'idempotency-key': key });
    expect([repeat.status, repeat.body.status]).toEqual([200, 'committed']);
    const again = await s.api.post('/v1/transactions?wait=20000', body, { 'idempotency-key': key });
    expect([again.status, again.body.status, again.headers.get('idempotent-replayed')]).toEqual([
      200,
      'committed',
      'true',
    ]);
  }, 30_000);

  it('a repeat of a start that died between claiming its key and answering is answered from its id', async () => {
    const body = { ...sagaBody(['a']), id: `idem-died-early-${Date.now()}` };
    const key = await keyOfDeadStart(body, null);
    const repeat = await s.api.post('/v1/transactions', body, { 'idempotency-key': key });
    // as the first request answered: its id was taken already, so 200 with the transaction
    expect([repeat.status, repeat.body.id]).toEqual([200, body.id]);
  }, 45_000);

  it('refuses a malformed key', async () => {
    const r = await s.api.post('/v1/transactions', sagaBody(['a']), { 'idempotency-key': 'x'.repeat(300) });
    expect(r.status).toBe(422);
    expect(r.body.errors).toEqual([
      { field: 'Idempotency-Key', rule: 'must be 1-255 visible ASCII characters (! to ~, no space)' },
    ]);
  });
});
