import {
  IdempotencyKeyReusedError,
  KeyConflictError,
  ParticipantConflictError,
  TransactionConflictError,
  ValidationError,
} from './contracts';
import { networkError, problem, scriptedFetch, type FakeAnswer } from './fetch-fixtures';
import { HttpTransport, type HttpRequest } from './http-transport';
import { CoordinatorUnreachableError, isProblemError } from './problem-errors';

const FAST = { maxAttempts: 4, initialBackoffMs: 1, maxBackoffMs: 5 };
const START: HttpRequest = { method: 'POST', path: '/v1/transactions', body: { protocol: 'saga' }, repeat: 'keyed' };

function transport(script: FakeAnswer[], extra: { apiKey?: string; url?: string } = {}) {
  const fake = scriptedFetch(script);
  return { http: new HttpTransport({ url: 'http://coord:7070', retry: FAST, ...extra, fetch: fake.fetch }), ...fake };
}

describe('HttpTransport', () => {
  it('sends JSON with the key, the Idempotency-Key and the query, and answers the parsed body', async () => {
    const { http, requests } = transport([{ status: 201, body: { id: 't1' } }], {
      apiKey: 'secret-0123456789abcdef',
      url: 'http://coord:7070/base/',
    });
    const answer = await http.request({ ...START, query: { wait: 5000, skipped: undefined } });
    expect(answer).toMatchObject({ status: 201, body: { id: 't1' } });
    expect(requests[0].url).toBe('http://coord:7070/base/v1/transactions?wait=5000');
    expect(requests[0].headers).toMatchObject({
      authorization: 'Bearer secret-0123456789abcdef',
      'content-type': 'application/json',
    });
    expect(requests[0].headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(requests[0].body!)).toEqual({ protocol: 'saga' });
  });

  it('refuses a wait the coordinator would refuse (not whole, out of range) before sending anything', async () => {
    for (const wait of [1.5, Number.NaN, Number.POSITIVE_INFINITY, -5, 60_001, 1e10]) {
      const { http, requests } = transport([{ status: 201, body: { id: 't1' } }]);
      const error = await http.request({ ...START, query: { wait } }).catch((e: unknown) => e);
      expect([wait, error instanceof ValidationError && (error as ValidationError).errors[0].field]).toEqual([
        wait,
        'wait',
      ]);
      // the whole problem, as the coordinator's 422 would carry it
      expect(isProblemError(error)).toBe(true);
      expect(error).toMatchObject({ status: 422, detail: expect.stringMatching(/^wait is invalid/) });
      expect(requests).toHaveLength(0);
    }
  });

  it('refuses an API key no header can carry, without repeating it', () => {
    for (const apiKey of ['txc_secret\r\nnext', 'txc_secret\nX', 'txc_se\u0000cret', 'txc_sécret']) {
      const made = (() => {
        try {
          return new HttpTransport({ url: 'http://coordinator.test', apiKey });
        } catch (error) {
          return error as Error;
        }
      })();
      expect(made).toBeInstanceOf(TypeError);
      expect((made as Error).message).toMatch(/apiKey/);
      expect((made as Error).message).not.toMatch(/secret|cret/);
    }
    // surrounding whitespace (a key read from a file) is trimmed, as fetch trims a header value
    expect(() => new HttpTransport({ url: 'http://coordinator.test', apiKey: ' txc_secret\n' })).not.toThrow();
  });

  it('takes only a whole number of milliseconds as its try timeout', () => {
    expect(() => new HttpTransport({ url: 'http://coordinator.test', timeoutMs: 1000.5 })).toThrow(RangeError);
    expect(() => new HttpTransport({ url: 'http://coordinator.test', timeoutMs: 1000 })).not.toThrow();
  });

  it('retries a lost answer, a 503 and busy answers with the same key and bytes, then succeeds', async () => {
    const { http, requests } = transport([
      networkError(),
      { status: 503, body: problem('store_unavailable', 503) },
      { status: 409, body: problem('transaction_busy', 409) },
      { status: 200, body: { id: 't1' } },
    ]);
    expect((await http.request(START)).body).toEqual({ id: 't1' });
    expect(requests).toHaveLength(4);
    expect(new Set(requests.map((r) => r.headers['idempotency-key'])).size).toBe(1);
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
  });

  it('resolves a DELETE whose retry finds nothing after a lost answer (the lost try deleted it), not before', async () => {
    const DELETE: HttpRequest = { method: 'DELETE', path: '/v1/keys/k1', repeat: 'safe' };
    const gone = { status: 404, body: problem('key_not_found', 404, 'no stored API key named "k1"') };
    const lost = transport([networkError(), gone]);
    expect(await lost.http.request(DELETE)).toMatchObject({ status: 204, body: null });
    expect(lost.requests).toHaveLength(2);
    // refused before it was sent, or never there: the 404 is the answer
    await expect(transport([networkError('ECONNREFUSED'), gone]).http.request(DELETE)).rejects.toMatchObject({
      status: 404,
    });
    await expect(transport([gone]).http.request(DELETE)).rejects.toMatchObject({ status: 404 });
  });

  it('uses a fresh key per call, or the one the caller gives', async () => {
    const { http, requests } = transport([{ status: 201, body: {} }]);
    await http.request(START);
    await http.request(START);
    await http.request({ ...START, options: { idempotencyKey: 'order-42-start' } });
    const keys = requests.map((r) => r.headers['idempotency-key']);
    expect(keys[0]).not.toBe(keys[1]);
    expect(keys[2]).toBe('order-42-start');
  });

  it('never retries an answer about the request itself', async () => {
    for (const [answer, Class] of [
      [
        { status: 422, body: problem('validation_failed', 422, 'bad', [{ field: 'protocol', rule: 'r' }]) },
        ValidationError,
      ],
      [{ status: 409, body: problem('transaction_conflict', 409) }, TransactionConflictError],
      [{ status: 422, body: problem('idempotency_key_reused', 422) }, IdempotencyKeyReusedError],
      [{ status: 409, body: problem('key_conflict', 409) }, KeyConflictError],
      [{ status: 409, body: problem('participant_conflict', 409) }, ParticipantConflictError],
    ] as const) {
      const { http, requests } = transport([answer, { status: 201, body: {} }]);
      await expect(http.request(START)).rejects.toBeInstanceOf(Class);
      expect(requests).toHaveLength(1);
    }
  });

  it('gives up after maxAttempts with the last error', async () => {
    const { http, requests } = transport([{ status: 409, body: problem('idempotency_key_in_flight', 409, 'still') }]);
    await expect(http.request(START)).rejects.toMatchObject({ code: 'idempotency_key_in_flight', status: 409 });
    expect(requests).toHaveLength(FAST.maxAttempts);
    const down = transport([networkError('ECONNRESET')]);
    await expect(down.http.request(START)).rejects.toBeInstanceOf(CoordinatorUnreachableError);
    expect(down.requests).toHaveLength(FAST.maxAttempts);
  });

  it('does not repeat an unsafe call after a lost answer, but does after a refused connection', async () => {
    const unsafe: HttpRequest = {
      method: 'POST',
      path: '/v1/keys',
      body: { name: 'k', role: 'viewer' },
      repeat: 'unsafe',
    };
    const lost = transport([networkError('ECONNRESET'), { status: 201, body: {} }]);
    await expect(lost.http.request(unsafe)).rejects.toThrow(/ECONNRESET/);
    expect(lost.requests).toHaveLength(1);
    expect(lost.requests[0].headers['idempotency-key']).toBeUndefined();
    const refused = transport([networkError('ECONNREFUSED'), { status: 201, body: { name: 'k' } }]);
    expect((await refused.http.request(unsafe)).body).toEqual({ name: 'k' });
    expect(refused.requests).toHaveLength(2);
  });

  it('does not repeat an unsafe call after a 503 store_unavailable (the write may land), but does a keyed one', async () => {
    const unsafe: HttpRequest = {
      method: 'POST',
      path: '/v1/keys',
      body: { name: 'k', role: 'viewer' },
      repeat: 'unsafe',
    };
    const timedOut = { status: 503, body: problem('store_unavailable', 503, 'the transaction log is unavailable') };
    const once = transport([timedOut, { status: 201, body: { name: 'k' } }]);
    await expect(once.http.request(unsafe)).rejects.toMatchObject({ code: 'store_unavailable', status: 503 });
    expect(once.requests).toHaveLength(1);
    const keyed = transport([timedOut, { status: 201, body: { id: 't1' } }]);
    expect((await keyed.http.request(START)).body).toEqual({ id: 't1' });
    expect(keyed.requests).toHaveLength(2);
  });

  it('waits what Retry-After asks, up to maxBackoffMs', async () => {
    const slow = new HttpTransport({
      url: 'http://coord',
      retry: { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 300 },
      fetch: scriptedFetch([
        { status: 409, body: problem('idempotency_key_in_flight', 409), headers: { 'retry-after': '1' } },
        { status: 200, body: {} },
      ]).fetch,
    });
    const started = Date.now();
    await slow.request(START);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('stops retrying when the caller aborts, with the caller’s reason', async () => {
    const abort = new AbortController();
    const { http, requests } = transport([
      (_, signal) => {
        abort.abort(new Error('caller gave up'));
        return Promise.reject(signal?.reason);
      },
    ]);
    await expect(http.request({ ...START, options: { signal: abort.signal } })).rejects.toThrow('caller gave up');
    expect(requests).toHaveLength(1);
  });

  describe('a try that gets no whole answer in time', () => {
    /** Never answers: only the request's signal ends it. */
    const hang: FakeAnswer = (_, signal) =>
      new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(signal.reason)));
    const answerAfter =
      (ms: number): FakeAnswer =>
      () =>
        new Promise((resolve) => setTimeout(() => resolve(Response.json({ id: 't1' })), ms));
    const timed = (script: FakeAnswer[], timeoutMs: number) => {
      const fake = scriptedFetch(script);
      return { http: new HttpTransport({ url: 'http://coord', retry: FAST, timeoutMs, fetch: fake.fetch }), ...fake };
    };

    it('is given up and retried, with the same key, when the call is keyed', async () => {
      const { http, requests } = timed([hang, { status: 201, body: { id: 't1' } }], 200);
      expect((await http.request(START)).body).toEqual({ id: 't1' });
      expect(requests).toHaveLength(2);
      expect(requests[1].headers['idempotency-key']).toBe(requests[0].headers['idempotency-key']);
    });

    it('is given up and not repeated when the call is unsafe', async () => {
      const { http, requests } = timed([hang, { status: 201, body: {} }], 200);
      const unsafe: HttpRequest = { method: 'POST', path: '/v1/keys', body: { name: 'k' }, repeat: 'unsafe' };
      await expect(http.request(unsafe)).rejects.toThrow(/no whole answer within 200 ms/);
      expect(requests).toHaveLength(1);
    });

    it('may take the call’s wait on top of the timeout', async () => {
      const { http, requests } = timed([answerAfter(400)], 200);
      expect((await http.request({ ...START, query: { wait: 2_000 } })).body).toEqual({ id: 't1' });
      expect(requests).toHaveLength(1);
    });

    it('refuses a timeout that is not a positive number of milliseconds', () => {
      expect(() => new HttpTransport({ url: 'http://coord', timeoutMs: 0 })).toThrow(RangeError);
    });
  });

  it('answers null for an empty body and keeps a non-JSON body as text', async () => {
    const { http } = transport([
      { status: 204 },
      new Response('plain', { status: 200, headers: { 'content-type': 'text/plain' } }),
    ]);
    expect((await http.request({ method: 'DELETE', path: '/v1/keys/k', repeat: 'safe' })).body).toBeNull();
    expect((await http.request({ method: 'GET', path: '/v1/me', repeat: 'safe' })).body).toBe('plain');
  });
});
