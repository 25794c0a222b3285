import { CoordinatorClient } from './coordinator-client';
import { BranchRejectedError, UnauthenticatedError } from './contracts';
import { eventStream, networkError, problem, scriptedFetch, type FakeAnswer } from './fetch-fixtures';
import { asReason } from './interactive-transaction';

function client(script: FakeAnswer[]) {
  const fake = scriptedFetch(script);
  const c = new CoordinatorClient({
    url: 'http://coord',
    retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 2 },
    fetch: fake.fetch,
  });
  return { client: c, requests: fake.requests };
}

const view = (id: string, extra: object = {}) => ({
  id,
  status: 'running',
  deadline: new Date(Date.now() + 60_000).toISOString(),
  branches: [],
  ...extra,
});

describe('CoordinatorClient: one call per endpoint', () => {
  const since = new Date('2026-11-29T18:00:00Z');
  const table: [string, (c: CoordinatorClient) => Promise<unknown>, string, string, unknown, boolean][] = [
    // name, call, method, url (after the base), body, sent with an Idempotency-Key
    [
      'start',
      (c) => c.startTransaction({ protocol: 'saga', branches: [] }, { wait: 500 }),
      'POST',
      '/v1/transactions?wait=500',
      { protocol: 'saga', branches: [] },
      true,
    ],
    ['get', (c) => c.getTransaction('order/1'), 'GET', '/v1/transactions/order%2F1', undefined, false],
    [
      'list',
      (c) =>
        c.listTransactions({ status: ['failed', 'aborted'], protocol: 'saga', from: since, limit: 10, cursor: 'abc' }),
      'GET',
      '/v1/transactions?protocol=saga&cursor=abc&status=failed%2Caborted&from=2026-11-29T18%3A00%3A00.000Z&limit=10',
      undefined,
      false,
    ],
    [
      'abort',
      (c) => c.abortTransaction('t1', { reason: 'customer cancelled' }),
      'POST',
      '/v1/transactions/t1/abort',
      { reason: 'customer cancelled' },
      true,
    ],
    ['replay', (c) => c.replayTransaction('t1'), 'POST', '/v1/transactions/t1/replay', {}, true],
    [
      'retry',
      (c) => c.retryTransaction('t1', { reason: 'inventory is back' }),
      'POST',
      '/v1/transactions/t1/retry',
      { reason: 'inventory is back' },
      true,
    ],
    [
      'bulk replay',
      (c) => c.bulkReplay({ participant: 'inventory', reason: 'healed', dryRun: true }),
      'POST',
      '/v1/transactions/replay',
      { participant: 'inventory', reason: 'healed', dryRun: true },
      true,
    ],
    [
      'begin',
      (c) => c.beginTransaction({ protocol: 'tcc', id: 'o-1' }),
      'POST',
      '/v1/transactions',
      { protocol: 'tcc', id: 'o-1', mode: 'interactive' },
      true,
    ],
    [
      'branch',
      (c) => c.registerBranch('o-1', { id: 'b', participant: 'p1' }),
      'POST',
      '/v1/transactions/o-1/branches?wait=20000',
      { id: 'b', participant: 'p1' },
      true,
    ],
    [
      'commit',
      (c) => c.commitTransaction('o-1', { wait: 1000 }),
      'POST',
      '/v1/transactions/o-1/commit?wait=1000',
      undefined,
      true,
    ],
    [
      'register',
      (c) => c.registerParticipant({ name: 'p1', url: 'http://p1' }),
      'POST',
      '/v1/participants',
      { name: 'p1', url: 'http://p1' },
      true,
    ],
    ['heartbeat', (c) => c.heartbeat('p1'), 'POST', '/v1/participants/p1/heartbeat', undefined, false],
    [
      'heartbeat of an instance',
      (c) => c.heartbeat('p1', { instanceId: 'i-1' }),
      'POST',
      '/v1/participants/p1/heartbeat',
      { instanceId: 'i-1' },
      false,
    ],
    [
      'remove instance',
      (c) => c.removeInstance('p1', 'http://h:1/'),
      'DELETE',
      '/v1/participants/p1/instances/http%3A%2F%2Fh%3A1%2F',
      undefined,
      false,
    ],
    ['participants', (c) => c.listParticipants(), 'GET', '/v1/participants', undefined, false],
    ['participant', (c) => c.getParticipant('p1'), 'GET', '/v1/participants/p1', undefined, false],
    ['delete participant', (c) => c.deleteParticipant('p1'), 'DELETE', '/v1/participants/p1', undefined, false],
    ['stats', (c) => c.stats('15m'), 'GET', '/v1/stats?window=15m', undefined, false],
    ['me', (c) => c.me(), 'GET', '/v1/me', undefined, false],
    ['keys', (c) => c.listKeys(), 'GET', '/v1/keys', undefined, false],
    [
      'create key',
      (c) => c.createKey({ name: 'ci', role: 'client' }),
      'POST',
      '/v1/keys',
      { name: 'ci', role: 'client' },
      false,
    ],
    ['revoke key', (c) => c.revokeKey('ci'), 'DELETE', '/v1/keys/ci', undefined, false],
  ];

  it.each(table)('%s', async (_, call, method, url, body, keyed) => {
    const { client: c, requests } = client([{ status: 200, body: { items: [] } }]);
    await call(c);
    expect(requests).toHaveLength(1);
    expect([requests[0].method, requests[0].url.replace('http://coord', '')]).toEqual([method, url]);
    expect(requests[0].body === undefined ? undefined : JSON.parse(requests[0].body)).toEqual(body);
    expect(requests[0].headers['idempotency-key'] !== undefined).toBe(keyed);
  });

  it('unwraps the lists of participants and keys', async () => {
    const { client: c } = client([{ status: 200, body: { items: [{ name: 'p1' }] } }]);
    expect(await c.listParticipants()).toEqual([{ name: 'p1' }]);
    expect(await c.listKeys()).toEqual([{ name: 'p1' }]);
  });

  it('iterates every page of a list, passing each nextCursor on', async () => {
    const { client: c, requests } = client([
      { status: 200, body: { items: [{ id: 'c' }, { id: 'b' }], nextCursor: 'n1' } },
      { status: 200, body: { items: [{ id: 'a' }], nextCursor: null } },
    ]);
    const ids: string[] = [];
    for await (const t of c.iterateTransactions({ status: 'committed', limit: 2 })) ids.push(t.id);
    expect(ids).toEqual(['c', 'b', 'a']);
    expect(requests.map((r) => new URL(r.url).searchParams.get('cursor'))).toEqual([null, 'n1']);
  });
});

describe('CoordinatorClient: the interactive helper', () => {
  it('begins, registers, and commits when the callback returns', async () => {
    const { client: c, requests } = client([
      { status: 201, body: view('o-1') },
      { status: 200, body: { id: 'debit', status: 'succeeded' } },
      { status: 200, body: view('o-1', { status: 'committed' }) },
    ]);
    const done = await c.tcc(
      async (tx) => {
        expect((await tx.branch({ id: 'debit', participant: 'accounts', payload: 1 })).status).toBe('succeeded');
      },
      { id: 'o-1', wait: 3000 },
    );
    expect(done.status).toBe('committed');
    expect(requests.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual([
      'POST /v1/transactions',
      'POST /v1/transactions/o-1/branches',
      'POST /v1/transactions/o-1/commit',
    ]);
    expect(JSON.parse(requests[0].body!)).toEqual({ id: 'o-1', protocol: 'tcc', mode: 'interactive' });
  });

  it('aborts with the error as the reason and rethrows it when the callback throws', async () => {
    const { client: c, requests } = client([
      { status: 201, body: view('o-2') },
      { status: 202, body: view('o-2') },
    ]);
    const boom = new Error('out of stock');
    await expect(c.interactive('2pc', () => Promise.reject(boom))).rejects.toBe(boom);
    expect(new URL(requests[1].url).pathname).toBe('/v1/transactions/o-2/abort');
    expect(JSON.parse(requests[1].body!)).toEqual({ reason: 'the initiator gave up: out of stock' });
  });

  it('rejects tx.branch with BranchRejectedError on a no, and then aborts', async () => {
    const { client: c, requests } = client([
      { status: 201, body: view('o-3') },
      { status: 409, body: problem('branch_rejected', 409, 'branch "b" did not say yes: branch b answered no to try') },
      { status: 200, body: view('o-3', { status: 'aborted' }) },
    ]);
    const failure = c.tcc(async (tx) => {
      await tx.branch({ id: 'b', participant: 'p1' });
    });
    await expect(failure).rejects.toBeInstanceOf(BranchRejectedError);
    await expect(failure).rejects.toMatchObject({
      status: 409,
      detail: 'branch "b" did not say yes: branch b answered no to try',
    });
    expect(requests.map((r) => new URL(r.url).pathname).at(-1)).toBe('/v1/transactions/o-3/abort');
  });

  it('waits out a vote still being retried (202) until the branch answers', async () => {
    const { client: c } = client([
      { status: 201, body: view('o-4') },
      { status: 202, body: { id: 'b', status: 'running' } },
      { status: 200, body: view('o-4', { branches: [{ id: 'b', status: 'running' }] }) },
      {
        status: 200,
        body: view('o-4', {
          status: 'aborting',
          error: 'branch b answered no to try',
          branches: [{ id: 'b', status: 'rejected' }],
        }),
      },
    ]);
    await expect(c.tcc((tx) => tx.branch({ id: 'b', participant: 'p1' }))).rejects.toThrow(
      'branch "b" did not say yes: branch b answered no to try',
    );
  });

  it('keeps a reason within what the coordinator takes', () => {
    expect(asReason('a\0b')).toBe('ab');
    expect(asReason('x'.repeat(499) + '😀')).toBe('x'.repeat(499));
    expect(asReason('\ud800 lone')).toBe('\ufffd lone');
  });
});

describe('CoordinatorClient: ids that cannot be a path segment', () => {
  it('refuses "." and ".." as the coordinator would (422 naming the field), sending nothing', async () => {
    const { client: c, requests } = client([]);
    for (const id of ['.', '..']) {
      await expect(c.getTransaction(id)).rejects.toMatchObject({
        name: 'ValidationError',
        status: 422,
        errors: [{ field: 'id', rule: expect.stringMatching(/must not be/) }],
      });
      await expect(c.abortTransaction(id, { reason: 'r' })).rejects.toMatchObject({ status: 422 });
      await expect(c.removeInstance('p1', id)).rejects.toMatchObject({ errors: [{ field: 'instanceId' }] });
    }
    expect(requests).toEqual([]);
  });
});

describe('CoordinatorClient: the live stream', () => {
  const status = (eventId: string, id: string, s: string) =>
    `id: ${eventId}\nevent: status\ndata: ${JSON.stringify({ id, protocol: 'saga', status: s, updatedAt: 'now' })}\n\n`;

  it('yields status changes, reconnects after a drop with Last-Event-ID, and closes the request on break', async () => {
    let lastSignal: AbortSignal | undefined;
    const { client: c, requests } = client([
      eventStream(['retry: 5\n\n: ping\n\n', status('1.a.1', 't1', 'running'), status('1.a.2', 't1', 'com')], 'fail'),
      networkError('ECONNREFUSED'),
      (_, signal) => {
        lastSignal = signal;
        return eventStream([status('1.a.3', 't1', 'committed'), status('1.a.4', 't2', 'running')], 'hang');
      },
    ]);
    const seen: string[] = [];
    for await (const change of c.stream({ lastEventId: '1.a.0' })) {
      seen.push(`${change.eventId} ${change.id} ${change.status}`);
      if (change.status === 'committed') break;
    }
    expect(seen).toEqual(['1.a.1 t1 running', '1.a.2 t1 com', '1.a.3 t1 committed']);
    expect(requests.map((r) => r.headers['last-event-id'])).toEqual(['1.a.0', '1.a.2', '1.a.2']);
    expect(requests[0].headers.accept).toBe('text/event-stream');
    expect(lastSignal?.aborted).toBe(true);
  });

  it('tells onReset when the server could not replay what changed (and goes on)', async () => {
    const { client: c } = client([
      eventStream([status('1.a.1', 't1', 'running')], 'fail'),
      eventStream(['id: 1.a.9\nevent: reset\ndata: {}\n\n', status('1.a.10', 't3', 'committed')], 'hang'),
    ]);
    const seen: string[] = [];
    for await (const change of c.stream({ onReset: () => seen.push('reset'), reconnect: { initialMs: 1 } })) {
      seen.push(`${change.id} ${change.status}`);
      if (change.status === 'committed') break;
    }
    expect(seen).toEqual(['t1 running', 'reset', 't3 committed']);
  });

  it('throws an answer that retrying cannot change', async () => {
    const { client: c, requests } = client([{ status: 401, body: problem('unauthenticated', 401, 'no key') }]);
    await expect(c.stream().next()).rejects.toBeInstanceOf(UnauthenticatedError);
    expect(requests).toHaveLength(1);
  });

  it('ends when the signal aborts, and gives up after maxReconnects', async () => {
    const abort = new AbortController();
    const { client: c } = client([eventStream([status('1.a.1', 't1', 'running')], 'hang')]);
    const stream = c.stream({ signal: abort.signal });
    expect((await stream.next()).value).toMatchObject({ id: 't1' });
    const next = stream.next();
    abort.abort();
    expect(await next).toEqual({ done: true, value: undefined });
    const down = client([networkError('ECONNREFUSED')]);
    await expect(down.client.stream({ maxReconnects: 2, reconnect: { initialMs: 1 } }).next()).rejects.toThrow(
      /dropped 3 times/,
    );
    expect(down.requests).toHaveLength(3);
  });
});

describe('CoordinatorClient: its base URL', () => {
  // a base given with the API's /v1 sent every call to /v1/v1/..., a 404 read as "no such transaction"
  it('takes a base given with /v1, and refuses one that is no http(s) URL', async () => {
    const fake = scriptedFetch([{ status: 200, body: view('t1') }]);
    const c = new CoordinatorClient({ url: 'http://coord/v1/', fetch: fake.fetch });
    await c.getTransaction('t1');
    expect(fake.requests.map((r) => r.url)).toEqual(['http://coord/v1/transactions/t1']);
    expect(() => new CoordinatorClient({ url: 'coord:7070' })).toThrow(/^url must/);
  });
});
