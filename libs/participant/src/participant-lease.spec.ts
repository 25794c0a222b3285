import { createServer, type Server } from 'node:http';
import { ParticipantLease, ParticipantRegistrationError, processInstanceId } from './participant-lease';

/** A fake coordinator that records each call and answers with the status `answer` picks. */
async function fakeCoordinator(answer: (method: string, path: string) => number) {
  const calls: { path: string; body: unknown; authorization?: string }[] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      calls.push({
        path: req.url ?? '',
        body: text ? JSON.parse(text) : null,
        authorization: req.headers.authorization,
      });
      res.writeHead(answer(req.method ?? '', req.url ?? ''), { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, calls, close: () => new Promise((done) => server.close(done)) };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  expect(check()).toBe(true);
};

describe('ParticipantLease', () => {
  // the log said only "fetch failed": neither the coordinator's address nor why
  it('names the coordinator it could not reach, and why', async () => {
    const gone = await fakeCoordinator(() => 200);
    await gone.close(); // nothing listens there now
    const errors: Error[] = [];
    const lease = new ParticipantLease({
      coordinatorUrl: gone.url,
      name: 'bank',
      url: 'http://127.0.0.1:1',
      ttlSeconds: 180,
      heartbeatMs: 60_000,
      onError: (e) => void errors.push(e),
    });
    await lease.start();
    await lease.stop();
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(new RegExp(`^cannot reach the coordinator at ${gone.url}: .*ECONNREFUSED`)),
    ]);
  });

  it('takes a heartbeat period that is not a whole number of milliseconds (a third of a 5 s lease)', async () => {
    const coordinator = await fakeCoordinator((_m, path) => (path === '/v1/participants' ? 201 : 200));
    const errors: Error[] = [];
    const lease = new ParticipantLease({
      coordinatorUrl: coordinator.url,
      name: 'bank',
      url: 'http://127.0.0.1:1',
      ttlSeconds: 5,
      heartbeatMs: 5000 / 3,
      onError: (e) => errors.push(e),
    });
    await lease.start();
    await lease.stop();
    await coordinator.close();
    expect(errors).toEqual([]);
    expect(coordinator.calls.filter((c) => c.path === '/v1/participants')).toHaveLength(1);
  });

  it('registers, heartbeats, registers again after a 404, and stops without deregistering', async () => {
    let forget = false;
    const coordinator = await fakeCoordinator((_m, path) => {
      if (path.endsWith('/heartbeat') && forget) {
        forget = false;
        return 404;
      }
      return path === '/v1/participants' ? 201 : 200;
    });
    const lease = new ParticipantLease({
      coordinatorUrl: `${coordinator.url}/`,
      name: 'bank',
      url: 'http://127.0.0.1:1',
      secret: 'sixteen-characters',
      apiKey: 'key-key-key-key-key',
      ttlSeconds: 3,
      heartbeatMs: 30,
    });
    await lease.start();
    expect(coordinator.calls[0]).toEqual({
      path: '/v1/participants',
      body: { name: 'bank', url: 'http://127.0.0.1:1', ttlSeconds: 3, secret: 'sixteen-characters' },
      authorization: 'Bearer key-key-key-key-key',
    });
    await until(() => coordinator.calls.filter((c) => c.path === '/v1/participants/bank/heartbeat').length >= 2);
    // registered without instanceId, the instance is its URL, and the heartbeat says so: an empty
    // body would renew every URL-named instance of the name, a dead one's too
    const heartbeat = coordinator.calls.find((c) => c.path === '/v1/participants/bank/heartbeat');
    expect(heartbeat?.body).toEqual({ instanceId: 'http://127.0.0.1:1' });
    forget = true;
    await until(() => coordinator.calls.filter((c) => c.path === '/v1/participants').length === 2);
    await lease.stop();
    const seen = coordinator.calls.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(coordinator.calls.length).toBe(seen);
    expect(coordinator.calls.every((c) => c.path.startsWith('/v1/participants'))).toBe(true);
    await coordinator.close();
  });

  it('stops renewing, and does not register again, when the coordinator says the instance was drained (409)', async () => {
    let drained = false;
    let toldDrained = 0;
    const coordinator = await fakeCoordinator((_m, path) => {
      if (path === '/v1/participants') return 201;
      return drained ? 409 : 200;
    });
    const errors: Error[] = [];
    const lease = new ParticipantLease({
      coordinatorUrl: coordinator.url,
      name: 'bank',
      url: 'http://127.0.0.1:1',
      instanceId: 'bank-1',
      ttlSeconds: 3,
      heartbeatMs: 30,
      onError: (e) => errors.push(e),
      onDrained: () => (toldDrained += 1),
    });
    await lease.start();
    await until(() => coordinator.calls.some((c) => c.path.endsWith('/heartbeat')));
    expect(toldDrained).toBe(0);
    drained = true;
    await until(() => errors.length === 1);
    const seen = coordinator.calls.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(coordinator.calls.length).toBe(seen);
    expect(coordinator.calls.filter((c) => c.path === '/v1/participants')).toHaveLength(1);
    expect(errors[0].message).toMatch(/drained/);
    expect(toldDrained).toBe(1);
    await lease.stop();
    await coordinator.close();
  });

  it('names its instance when registering and heartbeating, and leaves on stop({ leave: true })', async () => {
    const coordinator = await fakeCoordinator((_m, path) => (path === '/v1/participants' ? 201 : 200));
    const lease = new ParticipantLease({
      coordinatorUrl: coordinator.url,
      name: 'bank',
      instanceId: 'bank-1',
      url: 'http://127.0.0.1:1',
      ttlSeconds: 3,
      heartbeatMs: 30,
      metadata: { zone: 'a' },
      maxConcurrency: 4,
      autoReplay: true,
    });
    await lease.start();
    expect(coordinator.calls[0].body).toEqual({
      name: 'bank',
      url: 'http://127.0.0.1:1',
      ttlSeconds: 3,
      instanceId: 'bank-1',
      metadata: { zone: 'a' },
      maxConcurrency: 4,
      autoReplay: true,
    });
    await until(() => coordinator.calls.some((c) => c.path === '/v1/participants/bank/heartbeat'));
    expect(coordinator.calls.find((c) => c.path.endsWith('/heartbeat'))!.body).toEqual({ instanceId: 'bank-1' });
    await lease.stop({ leave: true });
    expect(coordinator.calls.at(-1)!.path).toBe('/v1/participants/bank/instances/bank-1');
    await coordinator.close();
  });

  it('fails the start on a refusal, and keeps trying when the coordinator cannot answer', async () => {
    const refusing = await fakeCoordinator(() => 422);
    const options = { name: 'bank', url: 'http://127.0.0.1:1', ttlSeconds: 3, heartbeatMs: 30 };
    await expect(new ParticipantLease({ ...options, coordinatorUrl: refusing.url }).start()).rejects.toBeInstanceOf(
      ParticipantRegistrationError,
    );
    await refusing.close();

    let down = true;
    const flaky = await fakeCoordinator(() => (down ? 503 : 201));
    const errors: Error[] = [];
    const lease = new ParticipantLease({ ...options, coordinatorUrl: flaky.url, onError: (e) => errors.push(e) });
    await lease.start();
    expect(errors[0].message).toMatch(/HTTP 503/);
    down = false;
    await until(() => flaky.calls.some((c) => c.path.endsWith('/heartbeat')));
    await lease.stop();
    await flaky.close();
  });

  // a base given with the API's /v1 sent every request to /v1/v1/..., whose 404 read as "register
  // again": the lease retried for good and the participant never got a call
  it('takes a coordinator URL given with /v1, and fails at once on one that is no http(s) URL', async () => {
    const coordinator = await fakeCoordinator((_m, path) => (path === '/v1/participants' ? 201 : 404));
    const errors: Error[] = [];
    const lease = new ParticipantLease({
      coordinatorUrl: `${coordinator.url}/v1/`,
      name: 'bank',
      url: 'http://127.0.0.1:1',
      ttlSeconds: 180,
      heartbeatMs: 60_000,
      onError: (e) => errors.push(e),
    });
    await lease.start();
    await lease.stop();
    await coordinator.close();
    expect(errors).toEqual([]);
    expect(coordinator.calls.map((c) => c.path)).toEqual(['/v1/participants']);
    for (const bad of ['127.0.0.1:7070', 'nats://127.0.0.1:4222', 'http://127.0.0.1:7070?x=1']) {
      expect(
        () =>
          new ParticipantLease({
            coordinatorUrl: bad,
            name: 'bank',
            url: 'http://127.0.0.1:1',
            ttlSeconds: 180,
            heartbeatMs: 60_000,
          }),
      ).toThrow(/^coordinatorUrl must/);
    }
  });
});

describe('processInstanceId', () => {
  it('names a process by its host and pid, in the characters an instance id may hold', () => {
    expect(processInstanceId('web-1.internal', 4242)).toBe('web-1.internal:4242');
    expect(processInstanceId('odd host/name', 7)).toBe('odd-host-name:7');
    expect(processInstanceId('', 7)).toBe('host:7');
    expect(processInstanceId('h'.repeat(300), 1).length).toBe(102);
    expect(processInstanceId()).toMatch(/^[A-Za-z0-9._-]+:\d+$/);
  });
});
