import {
  BranchRejectedError,
  CoordinatorClient,
  ForbiddenError,
  TransactionConflictError,
  TransactionNotFoundError,
  UnauthenticatedError,
  ValidationError,
  type StreamedStatusChange,
} from '#client';
import { TcpProxy, startTestStack, type TestStack } from '#testing';

const ADMIN_KEY = 'sdk-admin-secret-0123456789';
const VIEWER_KEY = 'sdk-viewer-secret-0123456789';

/**
 * The initiator SDK (libs/client) against a real coordinator process that requires API keys, with
 * the test participant `p1`: builders, the interactive helper, a retried submit whose first answer
 * was lost, typed errors, and the live stream across a break and a cut connection.
 */
describe('client SDK', () => {
  let s: TestStack;
  let client: CoordinatorClient;
  beforeAll(async () => {
    s = await startTestStack('client_sdk', {
      env: { API_KEYS: `sdk-admin:admin:${ADMIN_KEY},sdk-viewer:viewer:${VIEWER_KEY}` },
      apiKey: ADMIN_KEY,
    });
    client = new CoordinatorClient({ url: s.coordinator.url, apiKey: ADMIN_KEY });
  });
  afterAll(() => s.close());
  afterEach(() => s.participant.clearFaults());

  const unique = (label: string) => `${label}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const until = async (id: string, done: (status: string) => boolean) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const t = await client.getTransaction(id);
      if (done(t.status) || Date.now() > deadline) return t;
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('commits a saga built step by step, calling the paths it names', async () => {
    const id = unique('sdk-saga');
    const t = await client
      .saga({ id, retry: { maxAttempts: 3 } })
      .step('p1', { id: 'debit', action: '/accounts/debit', compensate: '/accounts/refund', payload: { delta: -10 } })
      .step('p1', { id: 'credit', payload: { delta: 10 } })
      .submit({ wait: 10_000 });
    expect(t).toMatchObject({ id, protocol: 'saga', status: 'committed', createdBy: 'sdk-admin' });
    expect(t.branches.map((b) => `${b.id}:${b.status}`)).toEqual(['debit:succeeded', 'credit:succeeded']);
    expect(s.participant.callsFor(id).map((c) => `${c.path} ${c.body.branchId}`)).toEqual([
      '/accounts/debit debit',
      '/saga/action credit',
    ]);
    expect(s.participant.callsFor(id)[0].body.payload).toEqual({ delta: -10 });
  });

  it('aborts a saga whose step says no, compensating what was done (and nothing where compensate is null)', async () => {
    const id = unique('sdk-saga-no');
    s.participant.fault({ transactionId: id, branchId: 'ship', phase: 'action', status: 409, times: 1 });
    const t = await client
      .saga({ id })
      .step('p1', { id: 'pay', compensate: '/accounts/refund' })
      .step('p1', { id: 'notify', compensate: null })
      .step('p1', { id: 'ship' })
      .submit({ wait: 10_000 });
    expect(t.status).toBe('aborted');
    expect(t.error).toMatch(/branch ship rejected/);
    expect(t.branches.map((b) => `${b.id}:${b.status}/${b.phase}`)).toEqual([
      'pay:completed/compensate',
      'notify:skipped/compensate',
      'ship:rejected/action',
    ]);
    expect(s.participant.callsFor(id, 'compensate').map((c) => `${c.path} ${c.body.branchId}`)).toEqual([
      '/accounts/refund pay',
    ]);
  });

  it('runs driven TCC, 2PC and 3PC transactions from their builders', async () => {
    const tcc = await client
      .tcc()
      .branch('p1', { id: 'hold', payload: { n: 1 } })
      .branch('p1', { id: 'other' })
      .submit({ wait: 10_000 });
    expect(tcc.status).toBe('committed');
    expect(s.participant.callsFor(tcc.id, 'confirm')).toHaveLength(2);
    expect((await client.twoPhase().branch('p1').submit({ wait: 10_000 })).status).toBe('committed');
    const threePc = await client.threePhase().branch('p1', { id: 'x' }).submit({ wait: 10_000 });
    expect(threePc.status).toBe('committed');
    expect(s.participant.outcome(threePc.id, 'x')).toMatchObject({ applied: 1, committed: 1, undone: 0 });
  });

  it('commits an interactive TCC transaction when the callback returns', async () => {
    const id = unique('sdk-tcc');
    const t = await client.tcc(
      async (tx) => {
        expect(tx.id).toBe(id);
        const hold = await tx.branch({ id: 'hold', participant: 'p1', payload: { amount: 5 } });
        expect(hold).toMatchObject({ id: 'hold', status: 'succeeded', phase: 'try' });
        await tx.branch({ id: 'reserve', participant: 'p1' });
      },
      { id, timeoutMs: 20_000, wait: 10_000 },
    );
    expect(t).toMatchObject({ id, mode: 'interactive', status: 'committed' });
    for (const b of ['hold', 'reserve'])
      expect(s.participant.outcome(id, b)).toEqual({ applied: 1, committed: 1, undone: 0 });
  });

  it('aborts an interactive 2PC transaction when the callback throws, and rethrows the error', async () => {
    const id = unique('sdk-2pc-throw');
    const boom = new Error('the order was cancelled meanwhile');
    await expect(
      client.interactive(
        '2pc',
        async (tx) => {
          await tx.branch({ id: 'a', participant: 'p1' });
          throw boom;
        },
        { id, timeoutMs: 20_000 },
      ),
    ).rejects.toBe(boom);
    const t = await until(id, (status) => status === 'aborted');
    expect(t.status).toBe('aborted');
    expect(t.events.find((e) => e.type === 'operator.abort')?.detail).toEqual({
      actor: 'sdk-admin',
      reason: 'the initiator gave up: the order was cancelled meanwhile',
    });
    expect(s.participant.outcome(id, 'a')).toEqual({ applied: 1, committed: 0, undone: 1 });
  });

  it('rejects tx.branch with BranchRejectedError when a branch says no; the transaction aborts', async () => {
    const id = unique('sdk-tcc-no');
    s.participant.fault({ transactionId: id, branchId: 'b', phase: 'try', status: 409, times: 5 });
    let rejected: unknown;
    await expect(
      client.tcc(
        async (tx) => {
          await tx.branch({ id: 'a', participant: 'p1' });
          rejected = await tx.branch({ id: 'b', participant: 'p1' }).catch((e: unknown) => e);
          throw rejected;
        },
        { id, timeoutMs: 20_000 },
      ),
    ).rejects.toBeInstanceOf(BranchRejectedError);
    expect(rejected).toMatchObject({ status: 409, code: 'branch_rejected' });
    expect((await until(id, (status) => status === 'aborted')).status).toBe('aborted');
    expect(s.participant.outcome(id, 'a')).toEqual({ applied: 1, committed: 0, undone: 1 });
  });

  it('retries a submit whose answer was lost with the same Idempotency-Key: one transaction, the same answer', async () => {
    const keys: string[] = [];
    const replayed: (string | null)[] = [];
    let lost = 0;
    // performs the request, lets the coordinator answer, then loses the answer once
    const lossyFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const key = new Headers(init?.headers).get('idempotency-key');
      if (!key) return res;
      keys.push(key);
      replayed.push(res.headers.get('idempotent-replayed'));
      if (lost === 0) {
        lost++;
        await res.text();
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
        });
      }
      return res;
    };
    const lossy = new CoordinatorClient({ url: s.coordinator.url, apiKey: ADMIN_KEY, fetch: lossyFetch });
    const countAll = async () => {
      let n = 0;
      for await (const page of client.iterateTransactions({ limit: 7 })) if (page.id) n++;
      return n;
    };
    const before = await countAll();

    // no id in the body: without the key, the repeat would start a second transaction
    const t = await lossy
      .saga()
      .step('p1', { id: 'only', payload: { once: true } })
      .submit({ wait: 10_000 });

    expect(lost).toBe(1);
    expect(t.status).toBe('committed');
    expect(await countAll()).toBe(before + 1);
    expect(s.participant.calls.filter((c) => (c.body.payload as { once?: boolean })?.once)).toHaveLength(1);
    // the repeat carried the first try's key and got the first try's answer back
    expect(keys).toEqual([keys[0], keys[0]]);
    expect(replayed).toEqual([null, 'true']);
    expect((await client.listTransactions({ q: keys[0] })).items.map((x) => x.id)).toEqual([t.id]);
  });

  it('throws the contracts error classes with the status, detail and field errors of the answer', async () => {
    const unknown = await client
      .saga()
      .step('p1', { id: 'a' })
      .step('nobody', { id: 'b' })
      .submit()
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(ValidationError);
    expect(unknown).toMatchObject({
      status: 422,
      code: 'validation_failed',
      detail: 'unknown participant(s): nobody',
      errors: [{ field: 'branches.1.participant', rule: 'participant "nobody" is not registered' }],
    });

    await expect(client.getTransaction('no-such-transaction')).rejects.toBeInstanceOf(TransactionNotFoundError);

    const done = await client.saga().step('p1').submit({ wait: 10_000 });
    const late = await client.abortTransaction(done.id, { reason: 'too late' }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(TransactionConflictError);
    expect(late).toMatchObject({ status: 409 });

    const stranger = new CoordinatorClient({ url: s.coordinator.url, apiKey: 'not-a-key-0123456789abcdef' });
    const denied = await stranger.me().catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(UnauthenticatedError);
    expect(denied).toMatchObject({ status: 401, retryable: false });

    const viewer = new CoordinatorClient({ url: s.coordinator.url, apiKey: VIEWER_KEY });
    expect(await viewer.me()).toEqual({ open: false, name: 'sdk-viewer', role: 'viewer' });
    await expect(viewer.saga().step('p1').submit()).rejects.toBeInstanceOf(ForbiddenError);
  });

  it('reads and manages participants, stats and keys', async () => {
    expect((await client.listParticipants()).map((p) => p.name)).toContain('p1');
    expect((await client.heartbeat('p1')).status).toBe('up');
    const registered = await client.registerParticipant({ name: 'sdk-temp', url: s.participant.url, ttlSeconds: 60 });
    expect(registered).toMatchObject({ name: 'sdk-temp', ttlSeconds: 60 });
    expect((await client.getParticipant('sdk-temp')).name).toBe('sdk-temp');
    // a second instance, by its id: renewed by id, then leaving
    await client.registerParticipant({ name: 'sdk-temp', url: s.participant.url, instanceId: 'i-2', ttlSeconds: 60 });
    expect((await client.heartbeat('sdk-temp', { instanceId: 'i-2' })).name).toBe('sdk-temp');
    await client.removeInstance('sdk-temp', 'i-2');
    const instances = (await client.getParticipant('sdk-temp')).instances;
    expect(instances.find((i) => i.instanceId === 'i-2')?.status).toBe('draining');
    await client.deleteParticipant('sdk-temp');
    await expect(client.getParticipant('sdk-temp')).rejects.toMatchObject({
      status: 404,
      code: 'participant_not_found',
    });

    expect((await client.stats('15m')).window).toBe('15m');
    const created = await client.createKey({ name: 'sdk-ci', role: 'client' });
    expect(created.key.length).toBeGreaterThanOrEqual(16);
    expect(await new CoordinatorClient({ url: s.coordinator.url, apiKey: created.key }).me()).toMatchObject({
      name: 'sdk-ci',
      role: 'client',
    });
    expect((await client.listKeys()).map((k) => `${k.name}:${k.source}`)).toEqual(
      expect.arrayContaining(['sdk-admin:env', 'sdk-ci:stored']),
    );
    await client.revokeKey('sdk-ci');
    expect((await client.listKeys()).map((k) => k.name)).not.toContain('sdk-ci');
  });

  describe('the live stream', () => {
    /** A client whose stream connections are recorded: when each opened, with which Last-Event-ID. */
    function watchedClient(url: string) {
      const opened: { lastEventId: string | null }[] = [];
      let onOpen = () => undefined as void;
      const watched: typeof fetch = async (input, init) => {
        const res = await fetch(input, init);
        if (String(input).endsWith('/v1/stream')) {
          opened.push({ lastEventId: new Headers(init?.headers).get('last-event-id') });
          onOpen();
        }
        return res;
      };
      return {
        client: new CoordinatorClient({ url, apiKey: ADMIN_KEY, fetch: watched }),
        opened,
        /** Resolves once the next stream connection is open (the server subscribes before it answers). */
        nextOpen: () => new Promise<void>((resolve) => (onOpen = resolve)),
      };
    }

    async function readUntil(
      stream: AsyncGenerator<StreamedStatusChange>,
      seen: StreamedStatusChange[],
      done: (c: StreamedStatusChange) => boolean,
      first?: Promise<IteratorResult<StreamedStatusChange>>,
    ): Promise<StreamedStatusChange> {
      for (let next = first ?? stream.next(); ; next = stream.next()) {
        const r = await next;
        if (r.done) throw new Error('the stream ended');
        seen.push(r.value);
        if (done(r.value)) return r.value;
      }
    }
    const statuses = (seen: StreamedStatusChange[], id: string) => seen.filter((c) => c.id === id).map((c) => c.status);
    const saga = (id: string) => client.saga({ id }).step('p1').submit({ wait: 10_000 });

    it('yields the changes of a transaction started meanwhile; after a break, resumes from the last id', async () => {
      const w = watchedClient(s.coordinator.url);
      const stream = w.client.stream();
      const seen: StreamedStatusChange[] = [];
      const open = w.nextOpen();
      const first = stream.next();
      await open;
      const a = unique('sdk-live-a');
      await saga(a);
      const last = await readUntil(stream, seen, (c) => c.id === a && c.status === 'committed', first);
      expect(statuses(seen, a)).toEqual(['running', 'committed']);
      expect(last).toMatchObject({ protocol: 'saga', eventId: expect.stringMatching(/^\d+\.[0-9a-f]+\.\d+$/) });
      // breaking out ends the generator, which aborts its request
      await stream.return();

      const b = unique('sdk-live-b');
      await saga(b);

      const again: StreamedStatusChange[] = [];
      for await (const change of w.client.stream({ lastEventId: last.eventId })) {
        again.push(change);
        if (change.id === b && change.status === 'committed') break;
      }
      expect(statuses(again, b)).toEqual(['running', 'committed']);
      expect(again.some((c) => c.id === a)).toBe(false);
      expect(w.opened.map((o) => o.lastEventId)).toEqual([null, last.eventId]);
    });

    it('reconnects on its own after the connection is cut, with Last-Event-ID, and misses nothing', async () => {
      const proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(s.coordinator.url).port) });
      try {
        const w = watchedClient(`http://127.0.0.1:${proxy.port}`);
        const stream = w.client.stream({ reconnect: { maxMs: 3_000 } });
        const seen: StreamedStatusChange[] = [];
        const open = w.nextOpen();
        const first = stream.next();
        await open;
        const a = unique('sdk-cut-a');
        await saga(a);
        const last = await readUntil(stream, seen, (c) => c.id === a && c.status === 'committed', first);

        // cut the connection and hold the reconnect at the proxy while another transaction runs
        proxy.pause();
        expect(proxy.cutAll()).toBeGreaterThanOrEqual(1);
        const pending = stream.next();
        const b = unique('sdk-cut-b');
        await saga(b);
        const reopened = w.nextOpen();
        proxy.resume();
        await reopened;

        await readUntil(stream, seen, (c) => c.id === b && c.status === 'committed', pending);
        expect(statuses(seen, b)).toEqual(['running', 'committed']);
        expect(w.opened.map((o) => o.lastEventId)).toEqual([null, last.eventId]);
        await stream.return();
      } finally {
        await proxy.close();
      }
    });
  });
});
