import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Limits, Outcome, Phase, Protocol } from '#contracts';
import { ParticipantUrlGuard, type Resolver } from '../participants/url-safety';
import { HttpParticipantCaller } from './participant-caller.http';

/** A participant that answers 200 and counts the TCP connections made to it. */
async function countingServer(): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections };
}

const callTo = (url: string) => ({
  url,
  secret: null,
  timeoutMs: 2_000,
  body: { transactionId: 't1', branchId: 'b1', protocol: Protocol.Saga, phase: Phase.Action, attempt: 1, payload: {} },
});

describe('HttpParticipantCaller connect-time guard', () => {
  let p: Awaited<ReturnType<typeof countingServer>>;
  const callers: HttpParticipantCaller[] = [];
  const caller = (options: ConstructorParameters<typeof HttpParticipantCaller>[0]) => {
    const c = new HttpParticipantCaller(options);
    callers.push(c);
    return c;
  };

  beforeEach(async () => {
    p = await countingServer();
  });
  afterEach(async () => {
    await Promise.all(callers.splice(0).map((c) => c.close()));
    await new Promise((resolve) => p.server.close(resolve));
  });

  it('never connects to a name that rebinds to a forbidden address after registration', async () => {
    // the attacker's DNS: loopback while the URL is registered, the metadata service afterwards
    let answer = ['127.0.0.1'];
    const resolve: Resolver = async () => answer;
    const url = `http://localhost:${p.port}/`;
    expect(await new ParticipantUrlGuard({ resolve }).check(url)).toEqual({ url, refusal: null });

    answer = ['169.254.169.254'];
    const result = await caller({ resolve }).call(callTo(`${url}saga/action`));

    expect(result).toMatchObject({ outcome: Outcome.Unknown, httpStatus: null });
    expect(result.error).toBe('connection refused by the participant URL guard: address 169.254.169.254 is link-local');
    expect(p.connections()).toBe(0);
  });

  it('connects to the address the guard resolved, and only to it', async () => {
    const asked: string[] = [];
    const resolve: Resolver = async (host) => {
      asked.push(host);
      return ['127.0.0.1'];
    };
    const result = await caller({ resolve }).call(callTo(`http://participant.test:${p.port}/saga/action`));
    expect(result).toMatchObject({ outcome: Outcome.Yes, httpStatus: 200, result: { ok: true } });
    expect(asked).toEqual(['participant.test']);
    expect(p.connections()).toBe(1);
  });

  it('refuses a name with one forbidden address among its answers', async () => {
    const resolve: Resolver = async () => ['127.0.0.1', '::ffff:169.254.169.254'];
    const result = await caller({ resolve }).call(callTo(`http://participant.test:${p.port}/saga/action`));
    expect(result.outcome).toBe(Outcome.Unknown);
    expect(result.error).toMatch(/participant URL guard: address ::ffff:169.254.169.254 carries 169.254.169.254/);
    expect(p.connections()).toBe(0);
  });

  it('refuses an address outside PARTICIPANT_URL_ALLOWLIST at connect time, IP literals included', async () => {
    const result = await caller({ allowList: '10.0.0.0/8' }).call(callTo(`http://127.0.0.1:${p.port}/saga/action`));
    expect(result.outcome).toBe(Outcome.Unknown);
    expect(result.error).toBe(
      'connection refused by the participant URL guard: host "127.0.0.1" is not in PARTICIPANT_URL_ALLOWLIST',
    );
    expect(p.connections()).toBe(0);
  });

  it('refuses a forbidden IP literal stored before the guard knew it', async () => {
    const result = await caller({}).call(callTo(`http://[::a9fe:a9fe]:${p.port}/saga/action`));
    expect(result.outcome).toBe(Outcome.Unknown);
    expect(result.error).toMatch(/^connection refused by the participant URL guard: address ::a9fe:a9fe carries/);
  });

  it('answers unknown, with the reason, when the resolver fails', async () => {
    const resolve: Resolver = async () => {
      throw new Error('SERVFAIL');
    };
    const result = await caller({ resolve }).call(callTo(`http://participant.test:${p.port}/saga/action`));
    expect(result).toMatchObject({
      outcome: Outcome.Unknown,
      error: 'connection refused by the participant URL guard: host "participant.test" does not resolve',
    });
  });

  it('still calls loopback participants with the default options', async () => {
    const result = await caller(undefined).call(callTo(`http://127.0.0.1:${p.port}/saga/action`));
    expect(result.outcome).toBe(Outcome.Yes);
    expect(p.connections()).toBe(1);
  });
});

describe('HttpParticipantCaller reply bodies as stored', () => {
  const replies: Record<string, { type: string; body: string }> = {
    '/json': { type: 'application/json', body: '{"ok":true}' },
    '/bad-json': { type: 'application/json', body: 'not json at all' },
    // plain node:http sends no content-type unless told: the body is JSON all the same
    '/json-untyped': { type: '', body: '{"state":"committed"}' },
    '/json-as-text': { type: 'text/plain', body: '{"balance":900}' },
    '/text-at-limit': { type: 'text/plain', body: 'x'.repeat(Limits.maxResultBytes) },
    '/json-past-limit': { type: 'application/json', body: JSON.stringify({ s: 'y'.repeat(Limits.maxResultBytes) }) },
    // 4-byte characters: the limit falls inside one
    '/emoji-past-limit': {
      type: 'application/json',
      body: JSON.stringify({ s: '😀'.repeat(Limits.maxResultBytes / 4) }),
    },
  };
  let server: Server;
  let base: string;
  const caller = new HttpParticipantCaller({ resolve: async () => ['127.0.0.1'] });

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      const reply = replies[req.url ?? ''];
      req.on('end', () => res.writeHead(200, reply.type ? { 'content-type': reply.type } : {}).end(reply.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await caller.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('parses JSON', async () => {
    expect((await caller.call(callTo(`${base}/json`))).result).toEqual({ ok: true });
  });

  it('parses a JSON body whatever its content-type says, or without one', async () => {
    expect((await caller.call(callTo(`${base}/json-untyped`))).result).toEqual({ state: 'committed' });
    expect((await caller.call(callTo(`${base}/json-as-text`))).result).toEqual({ balance: 900 });
  });

  it('keeps a body that is not JSON as its text, not marked truncated when it was not cut', async () => {
    expect((await caller.call(callTo(`${base}/bad-json`))).result).toEqual({ text: 'not json at all' });
    const atLimit = (await caller.call(callTo(`${base}/text-at-limit`))).result as Record<string, unknown>;
    expect(atLimit).toEqual({ text: replies['/text-at-limit'].body });
  });

  it('marks a body cut at the limit as truncated, with its first Limits.maxResultBytes bytes', async () => {
    const cut = (await caller.call(callTo(`${base}/json-past-limit`))).result as { truncated: boolean; text: string };
    expect(cut.truncated).toBe(true);
    expect(cut.text).toBe(replies['/json-past-limit'].body.slice(0, Limits.maxResultBytes));
  });

  it('cuts a body past the limit on a character boundary: at most the limit in bytes, no U+FFFD', async () => {
    const cut = (await caller.call(callTo(`${base}/emoji-past-limit`))).result as { truncated: boolean; text: string };
    expect(cut.truncated).toBe(true);
    expect(Buffer.byteLength(cut.text)).toBeLessThanOrEqual(Limits.maxResultBytes);
    expect(cut.text).not.toContain('\uFFFD');
    expect(replies['/emoji-past-limit'].body.startsWith(cut.text)).toBe(true);
  });
});

describe('HttpParticipantCaller call timeout', () => {
  let server: Server;
  let base: string;
  const caller = new HttpParticipantCaller();
  /** The participant is still sending when this is set: the call must have ended first. */
  let trickling = false;

  beforeAll(async () => {
    // headers at once, then a byte every 100 ms for 10 s: no wait between bytes is ever long
    server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      trickling = true;
      let sent = 0;
      const timer = setInterval(() => {
        if (++sent === 100) {
          clearInterval(timer);
          trickling = false;
          res.end();
        } else res.write(' ');
      }, 100);
      res.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await caller.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('bounds the whole call, not each wait: a body trickled past the timeout ends it as a timeout', async () => {
    const result = await caller.call({ ...callTo(`${base}/saga/action`), timeoutMs: 1_000 });
    expect(trickling).toBe(true); // ended while the participant was still sending
    expect(result).toMatchObject({ outcome: Outcome.Unknown, httpStatus: null, error: 'timeout' });
  }, 15_000);
});
