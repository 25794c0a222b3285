import { connect } from 'node:net';
import { Client } from 'pg';
import { Limits, MAX_JSON_DEPTH } from '#contracts';
import { startTestStack, type TestStack } from '#testing';
import { rawRequest, send, type RawAnswer } from './hostile-http';

/**
 * Issue 7, "Hostile input": each kind of bad request that used to get a 500, a silent change or no
 * answer at all is answered 4xx application/problem+json, names the field and rule when it is a
 * validation error, and writes nothing.
 */
describe('hostile input', () => {
  let s: TestStack;
  let pg: Client;
  let base: string;
  beforeAll(async () => {
    // a short request timeout for the slow-body test; every other request here is sent at once
    s = await startTestStack('hostile', { env: { REQUEST_TIMEOUT_MS: '1000' } });
    base = s.coordinator.url;
    pg = new Client({ connectionString: s.db.url });
    await pg.connect();
  });
  afterAll(async () => {
    await pg.end();
    await s.close();
  });

  const rows = async () => {
    const r = await pg.query(
      `SELECT (SELECT count(*) FROM txc_transactions) AS transactions, (SELECT count(*) FROM txc_branches) AS branches,
              (SELECT count(*) FROM txc_participants) AS participants`,
    );
    return Object.fromEntries(Object.entries(r.rows[0]).map(([k, v]) => [k, Number(v)]));
  };

  /** Asserts a 4xx problem+json answer; for a validation error, that `errors` names `field` (a prefix) and a rule matching `rule`. */
  const expectProblem = (r: RawAnswer, status: number | '4xx', field?: string, rule?: RegExp) => {
    if (status === '4xx') {
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
    } else {
      expect(r.status).toBe(status);
    }
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(r.body).toMatchObject({ status: r.status, type: expect.any(String), title: expect.any(String) });
    if (field !== undefined) {
      const errors: { field: string; rule: string }[] = r.body.errors ?? [];
      const named = errors.filter((e) => e.field === field || e.field.startsWith(`${field}.`));
      expect({ field, errors }).toEqual({ field, errors: expect.arrayContaining([expect.anything()]) });
      expect(named.length).toBeGreaterThan(0);
      if (rule) expect(named.map((e) => e.rule).join(' | ')).toMatch(rule);
    }
  };

  /** Runs `send`, expects a problem, and checks that no row was written. */
  const refused = async (
    request: () => Promise<RawAnswer>,
    status: number | '4xx',
    field?: string,
    rule?: RegExp,
  ): Promise<RawAnswer> => {
    const before = await rows();
    const r = await request();
    expectProblem(r, status, field, rule);
    expect(await rows()).toEqual(before);
    return r;
  };

  const startText = (payloadJson: string) =>
    `{"protocol":"saga","branches":[{"id":"a","participant":"p1","payload":${payloadJson}}]}`;
  const start = (text: string, headers: Record<string, string> = {}) =>
    send(base, 'POST', '/v1/transactions', text, headers);
  const register = (text: string) => send(base, 'POST', '/v1/participants', text);
  const participant = (extra: string) => `{"name":"hostile","url":"http://127.0.0.1:9/",${extra}}`;
  const deep = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

  let seq = 0;
  const interactive = async (id = `hostile-i-${Date.now()}-${seq++}`) => {
    const r = await s.api.post('/v1/transactions', { id, protocol: 'tcc', mode: 'interactive', timeoutMs: 60_000 });
    expect(r.status).toBe(201);
    return id;
  };

  describe('strings Postgres cannot store', () => {
    it('NUL in a payload value is 422 naming the field', async () => {
      await refused(() => start(startText('{"v":"x\\u0000y"}')), 422, 'branches.0.payload.v', /NUL/);
    });
    it('a lone surrogate in a payload value is 422 naming the field', async () => {
      await refused(() => start(startText('{"v":"x\\ud800y"}')), 422, 'branches.0.payload.v', /surrogate/);
      await refused(() => start(startText('{"v":"\\udc00"}')), 422, 'branches.0.payload.v', /surrogate/);
    });
    it('NUL or a lone surrogate in a payload key is 422 naming the field', async () => {
      await refused(() => start(startText('{"k\\u0000":1}')), 422, 'branches.0.payload', /NUL/);
      await refused(() => start(startText('{"k\\ud83d":1}')), 422, 'branches.0.payload', /surrogate/);
    });
    it('NUL or a lone surrogate in participant metadata is 422 naming the field', async () => {
      await refused(() => register(participant('"metadata":{"team":"a\\u0000"}')), 422, 'metadata.team', /NUL/);
      await refused(() => register(participant('"metadata":{"t\\udfff":1}')), 422, 'metadata', /surrogate/);
    });
    it('NUL or a lone surrogate in a secret is 422 naming the field', async () => {
      await refused(() => register(participant('"secret":"0123456789abcdef\\u0000"')), 422, 'secret', /NUL/);
      await refused(() => register(participant('"secret":"0123456789abcdef\\ud800"')), 422, 'secret', /surrogate/);
    });
    it('NUL or a lone surrogate in a url is 422 naming the field', async () => {
      await refused(() => register('{"name":"hostile","url":"http://127.0.0.1:9/a\\u0000"}'), 422, 'url', /NUL/);
      await refused(() => register('{"name":"hostile","url":"http://127.0.0.1:9/\\ud800"}'), 422, 'url', /surrogate/);
    });
    it('NUL in an id or a participant name is 422 naming the field', async () => {
      await refused(
        () => start('{"id":"a\\u0000","protocol":"saga","branches":[{"id":"a","participant":"p1"}]}'),
        422,
        'id',
      );
      await refused(() => register('{"name":"p\\u0000","url":"http://127.0.0.1:9/"}'), 422, 'name');
    });
    it('NUL or a lone surrogate in an interactive branch payload is 422 and the transaction goes on', async () => {
      const id = await interactive();
      const path = `/v1/transactions/${id}/branches`;
      await refused(
        () => send(base, 'POST', path, '{"id":"a","participant":"p1","payload":{"v":"\\u0000"}}'),
        422,
        'payload.v',
        /NUL/,
      );
      await refused(
        () => send(base, 'POST', path, '{"id":"a","participant":"p1","payload":"\\ud800"}'),
        422,
        'payload',
        /surrogate/,
      );
      // nothing jammed: the same transaction takes a good branch and commits
      expect((await send(base, 'POST', path, '{"id":"a","participant":"p1","payload":{"v":1}}')).status).toBe(200);
      const committed = await send(base, 'POST', `/v1/transactions/${id}/commit?wait=10000`);
      expect(committed.status).toBe(200);
      expect(committed.body.status).toBe('committed');
    });
  });

  describe('depth', () => {
    it(`a payload nested thousands of levels deep is 422 naming the field`, async () => {
      await refused(() => start(startText(deep(5000))), 422, 'branches.0.payload', /nest deeper/);
      await refused(
        () => start(startText('['.repeat(20000) + ']'.repeat(20000))),
        422,
        'branches.0.payload',
        /nest deeper/,
      );
    });
    it(`a payload nested just past ${MAX_JSON_DEPTH} levels is 422, at ${MAX_JSON_DEPTH} it is taken`, async () => {
      await refused(() => start(startText(deep(MAX_JSON_DEPTH + 1))), 422, 'branches.0.payload', /nest deeper/);
      expect((await start(startText(deep(MAX_JSON_DEPTH)))).status).toBe(201);
    });
    it('participant metadata nested thousands of levels deep is 422 naming the field', async () => {
      await refused(() => register(participant(`"metadata":{"m":${deep(5000)}}`)), 422, 'metadata', /nest deeper/);
      await refused(
        () => register(participant(`"metadata":${deep(MAX_JSON_DEPTH + 1)}`)),
        422,
        'metadata',
        /nest deeper/,
      );
    });
    it('a deep interactive branch payload is 422 naming the field', async () => {
      const id = await interactive();
      await refused(
        () =>
          send(
            base,
            'POST',
            `/v1/transactions/${id}/branches`,
            `{"id":"a","participant":"p1","payload":${deep(5000)}}`,
          ),
        422,
        'payload',
        /nest deeper/,
      );
    });
  });

  describe('numbers JSON would silently change', () => {
    it.each([
      ['1e309', /finite/],
      ['-1e309', /finite/],
      ['-0', /negative zero/],
      ['-0.0e7', /negative zero/],
      ['1e-400', /underflow|round/],
    ])('%s in a payload is 422 naming the field', async (n, rule) => {
      await refused(() => start(startText(`{"n":${n}}`)), 422, 'branches.0.payload.n', rule);
    });
    it('1e309 in participant metadata or in timeoutMs is 422 naming the field', async () => {
      await refused(() => register(participant('"metadata":{"n":[1e309]}')), 422, 'metadata.n', /finite/);
      await refused(
        () => start('{"protocol":"saga","timeoutMs":1e309,"branches":[{"id":"a","participant":"p1"}]}'),
        422,
        'timeoutMs',
      );
    });
    it('0, 5e-324 and 1.5e308 are taken as they are', async () => {
      const r = await start(startText('{"z":0,"tiny":5e-324,"big":1.5e308}'));
      expect(r.status).toBe(201);
      expect(r.body.branches[0].payload).toEqual({ z: 0, tiny: 5e-324, big: 1.5e308 });
    });
  });

  describe('ids', () => {
    const id128 = 'i'.repeat(100) + ':' + 'x'.repeat(27);

    it('a 128-character id is reachable on every id route', async () => {
      expect(id128).toHaveLength(128);
      await interactive(id128);
      const path = `/v1/transactions/${id128}`;
      expect((await send(base, 'GET', path)).status).toBe(200);
      expect((await send(base, 'POST', `${path}/branches`, '{"id":"a","participant":"p1"}')).status).toBe(200);
      const committed = await send(base, 'POST', `${path}/commit?wait=10000`);
      expect(committed.status).toBe(200);
      expect(committed.body.id).toBe(id128);
      // committed: abort and replay are refused by the state, not by the route
      expectProblem(await send(base, 'POST', `${path}/abort`), 409);
      expectProblem(await send(base, 'POST', `${path}/replay`), 409);
      const listed = await send(base, 'GET', `/v1/transactions?q=${id128}`);
      expect(listed.body.items.map((t: any) => t.id)).toEqual([id128]);
    });
    it('a 129-character id is 422 naming the field, in a body and in a path', async () => {
      await refused(
        () => start(`{"id":"${'y'.repeat(129)}","protocol":"saga","branches":[{"id":"a","participant":"p1"}]}`),
        422,
        'id',
      );
      await refused(() => send(base, 'GET', `/v1/transactions/${'y'.repeat(129)}`), 422, 'id');
    });
    it('ids "." and ".." are 422 naming the field', async () => {
      for (const id of ['.', '..']) {
        await refused(
          () => start(`{"id":"${id}","protocol":"saga","branches":[{"id":"a","participant":"p1"}]}`),
          422,
          'id',
        );
        await refused(
          () => start(`{"protocol":"saga","branches":[{"id":"${id}","participant":"p1"}]}`),
          422,
          'branches.0.id',
        );
        const txn = await interactive();
        await refused(
          () => send(base, 'POST', `/v1/transactions/${txn}/branches`, `{"id":"${id}","participant":"p1"}`),
          422,
          'id',
        );
      }
    });
    it('%00 in a path id is 422 naming the field, on every route', async () => {
      await refused(() => send(base, 'GET', '/v1/transactions/a%00b'), 422, 'id', /NUL|characters/);
      for (const action of ['abort', 'replay', 'commit', 'branches']) {
        await refused(() => send(base, 'POST', `/v1/transactions/a%00b/${action}`, '{}'), 422, 'id');
      }
      await refused(() => send(base, 'GET', '/v1/participants/p%00'), 422, 'name');
      await refused(() => send(base, 'POST', '/v1/participants/p%00/heartbeat'), 422, 'name');
      await refused(() => send(base, 'DELETE', '/v1/participants/p%00'), 422, 'name');
    });
    it('a 65th interactive branch is refused and not registered', async () => {
      const id = await interactive();
      for (let i = 0; i < Limits.maxBranches; i++) {
        const r = await send(base, 'POST', `/v1/transactions/${id}/branches`, `{"id":"b${i}","participant":"p1"}`);
        expect(r.status).toBe(200);
      }
      const before = await pg.query('SELECT count(*)::int AS n FROM txc_branches WHERE transaction_id = $1', [id]);
      expect(before.rows[0].n).toBe(Limits.maxBranches);
      await refused(
        () => send(base, 'POST', `/v1/transactions/${id}/branches`, '{"id":"one-too-many","participant":"p1"}'),
        422,
        'branches',
        new RegExp(`${Limits.maxBranches}`),
      );
      expect(s.participant.calls.filter((c) => c.body.branchId === 'one-too-many')).toHaveLength(0);
      // a repeat of a registered branch still answers from the log
      expect(
        (await send(base, 'POST', `/v1/transactions/${id}/branches`, '{"id":"b0","participant":"p1"}')).status,
      ).toBe(200);
    });
    it('registrations sent together still stop at the branch limit', async () => {
      const id = await interactive();
      const extra = 6;
      const answers = await Promise.all(
        Array.from({ length: Limits.maxBranches + extra }, (_, i) =>
          send(base, 'POST', `/v1/transactions/${id}/branches`, `{"id":"c${i}","participant":"p1"}`),
        ),
      );
      expect(answers.filter((r) => r.status === 200)).toHaveLength(Limits.maxBranches);
      expect(answers.filter((r) => r.status === 422)).toHaveLength(extra);
      const rows = await pg.query(
        'SELECT count(*)::int AS n, count(DISTINCT position)::int AS positions FROM txc_branches WHERE transaction_id = $1',
        [id],
      );
      expect(rows.rows[0]).toEqual({ n: Limits.maxBranches, positions: Limits.maxBranches });
    });
    it('one branch id sent together with different payloads: one is registered, the others are 409', async () => {
      const id = await interactive();
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          send(base, 'POST', `/v1/transactions/${id}/branches`, `{"id":"x","participant":"p1","payload":{"v":${i}}}`),
        ),
      );
      expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
      expect(answers.filter((r) => r.status === 409)).toHaveLength(5);
      expect(s.participant.calls.filter((c) => c.body.transactionId === id)).toHaveLength(1);
    });
  });

  describe('sizes', () => {
    it(`participant metadata over ${Limits.maxMetadataBytes} bytes is 422 naming the field`, async () => {
      const big = JSON.stringify({ blob: 'x'.repeat(Limits.maxMetadataBytes) });
      await refused(() => register(participant(`"metadata":${big}`)), 422, 'metadata', /bytes/);
      expect((await register(participant(`"metadata":{"blob":"${'x'.repeat(1000)}"}`))).status).toBe(201);
      await pg.query(`DELETE FROM txc_participants WHERE name = 'hostile'`);
    });
  });

  describe('media types and query numbers', () => {
    it('a declared charset other than utf-8 is 415', async () => {
      const body = startText('{"n":1}');
      for (const charset of ['iso-8859-1', 'utf-16', 'latin1']) {
        await refused(() => start(body, { 'content-type': `application/json; charset=${charset}` }), 415);
      }
      expect((await start(body, { 'content-type': 'application/json; charset=UTF-8' })).status).toBe(201);
    });
    it('Content-Encoding other than identity on a body is 415', async () => {
      const body = startText('{"n":1}');
      for (const encoding of ['gzip', 'br', 'deflate']) {
        await refused(() => start(body, { 'content-encoding': encoding }), 415);
      }
      expect((await start(body, { 'content-encoding': 'identity' })).status).toBe(201);
    });
    it('bytes that are not UTF-8 are 400', async () => {
      const body = Buffer.concat([
        Buffer.from('{"protocol":"saga","branches":[{"id":"a","participant":"p1","payload":{"v":"'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}}]}'),
      ]);
      const headers = `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
      const request = Buffer.concat([Buffer.from(`POST /v1/transactions HTTP/1.1\r\nHost: x\r\n${headers}`), body]);
      await refused(() => rawRequest(base, request), 400);
    });
    // both were answered by Node itself, with an empty body and no content type
    it('an HTTP/1.1 request without Host is 400, and an Expect other than 100-continue is 417, as problems', async () => {
      const body = startText('{"n":1}');
      const headers = `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n`;
      const noHost = await refused(
        () => rawRequest(base, `POST /v1/transactions HTTP/1.1\r\n${headers}\r\n${body}`),
        400,
      );
      expect(noHost.body.detail).toMatch(/Host/);
      const expectation = await refused(
        () => rawRequest(base, `POST /v1/transactions HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\n${headers}\r\n${body}`),
        417,
      );
      expect(expectation.body.detail).toMatch(/100-continue/);
      // HTTP/1.0 needs no Host
      expect((await rawRequest(base, 'GET /health/live HTTP/1.0\r\n\r\n')).status).toBe(200);
    });
    it.each([
      ['GET', '/v1/transactions?limit=0x10', 'limit'],
      ['GET', '/v1/transactions?limit=1e1', 'limit'],
      ['GET', '/v1/transactions?limit=%2010', 'limit'],
      ['GET', '/v1/transactions?limit=10.0', 'limit'],
      ['POST', '/v1/transactions?wait=1e3', 'wait'],
      ['POST', '/v1/transactions?wait=0x10', 'wait'],
      ['POST', '/v1/transactions?wait=+5', 'wait'],
    ])('%s %s (not a decimal integer) is 422 naming the field', async (method, path, field) => {
      await refused(
        () => send(base, method, path, method === 'POST' ? startText('1') : undefined),
        422,
        field,
        /decimal/,
      );
    });
    it('a decimal integer is read whatever its length: zero-padded in range is taken, a long one is out of range', async () => {
      const page = await send(base, 'GET', '/v1/transactions?limit=00000000001');
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(1);
      const waited = await send(base, 'POST', '/v1/transactions?wait=00000000000', startText('1'));
      expect([200, 202]).toContain(waited.status);
      await refused(() => send(base, 'GET', `/v1/transactions?limit=${'9'.repeat(20)}`), 422, 'limit', /at most/);
      await refused(
        () => send(base, 'POST', `/v1/transactions?wait=${'9'.repeat(20)}`, startText('1')),
        422,
        'wait',
        /from 0 to/,
      );
    });
    it('%00 in a query value is 422 naming the field', async () => {
      await refused(() => send(base, 'GET', '/v1/transactions?q=a%00'), 422, 'q', /NUL/);
      await refused(() => send(base, 'GET', '/v1/transactions?participant=%00'), 422, 'participant');
      await refused(() => send(base, 'GET', '/v1/transactions?status=%00'), 422, 'status');
      await refused(() => send(base, 'GET', '/v1/transactions?cursor=%00'), 422, 'cursor');
    });
    it('a cursor no page could have given is 422 naming the field, whatever it decodes to', async () => {
      const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const at = '2026-12-01T12:30:13.066Z';
      for (const cursor of [
        forged([at, 'a\u0000']),
        forged([at, 'a\ud800']),
        forged([at, 'not an id']),
        forged([12345, 'a']),
        forged(['-005000-01-01T00:00:00.000Z', 'a']),
        forged(['+275760-09-13T00:00:00.000Z', 'a']),
        forged(['2026-12-01 12:30', 'a']),
        forged([at, 'a', 'extra']),
        forged({ at, id: 'a' }),
      ]) {
        await refused(() => send(base, 'GET', `/v1/transactions?cursor=${cursor}`), 422, 'cursor');
      }
      expect((await send(base, 'GET', `/v1/transactions?cursor=${forged([at, 'a'])}`)).status).toBe(200);
    });
  });

  describe('errors the HTTP server raises', () => {
    const head = (path: string, extra = '') => `POST ${path} HTTP/1.1\r\nHost: x\r\n${extra}`;

    // an answer given before the body arrived in full: the request timeout wrote a second answer
    // (408) on its connection, which a keep-alive client would take for its next request's; and
    // closing the connection at once instead cut off clients still sending the body (a failed write)
    it('an answer given before the body arrived: one request, one answer, and the connection stays usable', async () => {
      const { hostname, port } = new URL(base);
      const exchange = async (rest: string | null) => {
        const socket = connect(Number(port), hostname);
        const received: Buffer[] = [];
        let answered!: () => void;
        const first = new Promise<void>((resolve) => (answered = resolve));
        socket.on('data', (c: Buffer) => (received.push(c), answered()));
        const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
        socket.write(head('/v1/transactions', 'Content-Type: text/plain\r\nContent-Length: 100\r\n\r\n') + 'only part');
        await first;
        // the rest of the body, then the next request on the same connection
        if (rest !== null) socket.write(rest + `GET /v1/transactions?limit=1 HTTP/1.1\r\nHost: x\r\n\r\n`);
        // the request timeout is 1 s here: a connection left waiting gets its 408 within it
        await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 4_000))]);
        socket.destroy();
        return Buffer.concat(received)
          .toString('latin1')
          .match(/HTTP\/1\.1 \d{3} /g);
      };
      expect(await exchange(null)).toEqual(['HTTP/1.1 415 ']);
      expect(await exchange('x'.repeat(100 - 'only part'.length))).toEqual(['HTTP/1.1 415 ', 'HTTP/1.1 200 ']);
      // an answer to a request read in full keeps its connection
      const whole = await rawRequest(base, `GET /v1/transactions?limit=1 HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect([whole.status, whole.headers.connection]).toEqual([200, 'keep-alive']);
      const start = JSON.stringify({ protocol: 'saga', branches: [{ id: 'a', participant: 'p1' }] });
      const started = await rawRequest(
        base,
        head('/v1/transactions', `Content-Type: application/json\r\nContent-Length: ${start.length}\r\n\r\n`) + start,
      );
      expect([started.status, started.headers.connection]).toEqual([201, 'keep-alive']);
    });

    it('bad chunking is 400 problem+json', async () => {
      await refused(
        () =>
          rawRequest(
            base,
            head('/v1/transactions', 'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n') +
              'zz\r\n{}\r\n0\r\n\r\n',
          ),
        400,
      );
    });
    it('an empty Content-Type header on a write is the same 415 problem as any other type', async () => {
      const answer = await refused(
        () => rawRequest(base, head('/v1/transactions/x/commit', 'Content-Type:\r\nContent-Length: 0\r\n\r\n')),
        415,
      );
      expect(answer.body.type).toBe('/problems/unsupported_media_type');
    });
    it('two Content-Lengths are 400 problem+json', async () => {
      const body = startText('{"n":1}');
      await refused(
        () =>
          rawRequest(
            base,
            head(
              '/v1/transactions',
              `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nContent-Length: 2\r\n\r\n`,
            ) + body,
          ),
        400,
      );
    });
    it('a path parameter longer than the router takes is 414 problem+json', async () => {
      await refused(
        () => rawRequest(base, `GET /v1/transactions/${'z'.repeat(2000)} HTTP/1.1\r\nHost: x\r\n\r\n`),
        414,
      );
    });
    it('a URL longer than the limit is 414 problem+json', async () => {
      await refused(
        () => rawRequest(base, `GET /v1/transactions?q=${'z'.repeat(Limits.maxUrlBytes)} HTTP/1.1\r\nHost: x\r\n\r\n`),
        414,
      );
    });
    it('headers larger than the limit are 431 problem+json', async () => {
      await refused(
        () =>
          rawRequest(
            base,
            `GET /v1/transactions HTTP/1.1\r\nHost: x\r\nX-Big: ${'h'.repeat(Limits.maxHeaderBytes)}\r\n\r\n`,
          ),
        431,
      );
    });
    it('many small headers past the limit together (separators counted) are 431 too; just under it they pass', async () => {
      // "X-<i>: v\r\n": Node's own bound counts no separators and drops headers past 2 000 unseen
      const headers = (n: number) => Array.from({ length: n }, (_, i) => `X-${i}: v\r\n`).join('');
      const line = 'GET /v1/transactions HTTP/1.1\r\nHost: x\r\n';
      const over = `${line}${headers(2_400)}\r\n`;
      expect(over.length).toBeGreaterThan(Limits.maxHeaderBytes);
      const refusedAnswer = await refused(() => rawRequest(base, over), 431);
      expect(refusedAnswer.headers.connection).toBe('close');
      let n = 1_000;
      while (`${line}${headers(n + 1)}\r\n`.length <= Limits.maxHeaderBytes) n += 1;
      const under = await rawRequest(base, `${line}${headers(n)}\r\n`);
      expect(under.status).toBe(200);
    });
    it('a malformed percent-escape in the path is 400 problem+json', async () => {
      await refused(() => rawRequest(base, 'GET /v1/transactions/%zz HTTP/1.1\r\nHost: x\r\n\r\n'), 400);
    });
    it('unknown routes are 404 problem+json, other methods 404 or 405 problem+json', async () => {
      await refused(() => send(base, 'GET', '/nowhere'), 404);
      await refused(() => send(base, 'PUT', '/v1/transactions', '{}'), '4xx');
      await refused(() => send(base, 'PATCH', '/v1/participants/p1', '{}'), '4xx');
    });
    it('a client that sends its headers and then trickles its body is cut off by the request timeout', async () => {
      const body = startText('{"n":1}');
      const r = await refused(
        () =>
          rawRequest(
            base,
            head('/v1/transactions', `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`),
            {
              trickle: { bytes: body, everyMs: 250 },
              timeoutMs: 10_000,
            },
          ),
        408,
      );
      // REQUEST_TIMEOUT_MS=1000 in this stack, checked at least every 250 ms
      expect(r.ms).toBeGreaterThanOrEqual(900);
      expect(r.ms).toBeLessThan(5_000);
    });
  });
});
