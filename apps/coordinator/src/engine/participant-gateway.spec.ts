import type { ParticipantEntity, ParticipantInstanceEntity } from '#store';
import type { CircuitBreakers } from './circuit-breakers';
import type { ParticipantCaller } from './participant-caller';
import type { ParticipantDirectory } from './participant-directory';
import { NO_INSTANCE_MAX_WAIT_MS, ParticipantGateway, noInstanceWaitMs, type Delivery } from './participant-gateway';
import type { ParticipantStats } from './participant-stats';

const participant = { name: 'accounts', maxConcurrency: null, ratePerSecond: null } as ParticipantEntity;
const instance = {
  participant: 'accounts',
  instanceId: 'a-1',
  url: 'http://127.0.0.1:1',
  transport: 'http',
  ttlSeconds: null,
  lastSeenAt: new Date(),
  leftAt: null,
} as ParticipantInstanceEntity;

/**
 * A gateway over one participant whose instances the test sets; every call it makes answers yes
 * (or what `answer` says for an instance), through circuits whose availability `circuitOf` gives.
 */
function gatewayOver(
  instances: () => ParticipantInstanceEntity[],
  circuitOf: (instanceId: string) => 'closed' | 'probe' | number = () => 'closed',
  answer: (instanceId: string) => 'yes' | 'unknown' = () => 'yes',
) {
  const called: string[] = [];
  const directory = {
    entry: async () => ({ participant, instances: instances() }),
  } as unknown as ParticipantDirectory;
  const caller = {
    call: async (request: { url: string }) => {
      const instanceId = request.url;
      called.push(instanceId);
      return answer(instanceId) === 'yes'
        ? { outcome: 'yes', httpStatus: 200, result: null, durationMs: 1 }
        : { outcome: 'unknown', httpStatus: 503, result: null, durationMs: 1 };
    },
  } as unknown as ParticipantCaller;
  // a failed probe opens the circuit again for 5 s, as the real breaker does
  const reopened = new Set<string>();
  const availability = (instanceId: string) => (reopened.has(instanceId) ? Date.now() + 5_000 : circuitOf(instanceId));
  const circuits = {
    of: (_: string, instanceId: string) => ({
      availability: () => availability(instanceId),
      // no other coordinator publishes here: what this one's breaker says
      availabilityWith: () => availability(instanceId),
      run: async (f: () => Promise<{ outcome: string }>) => {
        const probe = availability(instanceId) === 'probe';
        const result = await f();
        if (probe && result.outcome === 'unknown') reopened.add(instanceId);
        return { called: true, result, probe };
      },
    }),
  } as unknown as CircuitBreakers;
  const stats = { record: () => undefined } as unknown as ParticipantStats;
  const gateway = new ParticipantGateway(directory, caller, circuits, stats, {
    limitWaitMs: 1_000,
    noInstanceRetryMs: 1_000,
    callTimeoutMs: 10_000,
  });
  return Object.assign(gateway, { called });
}

/** The request names the instance it was built for, so the fake caller can tell them apart. */
const build = (_: ParticipantEntity, i: ParticipantInstanceEntity) =>
  ({ url: i.instanceId, transport: 'http', body: {} }) as never;

describe('ParticipantGateway without a live instance', () => {
  afterEach(() => jest.useRealTimers());

  it('waits half as long as the participant has been without one, from NO_INSTANCE_RETRY_MS up to 30 s', () => {
    expect(noInstanceWaitMs(0, 1_000)).toBe(1_000);
    expect(noInstanceWaitMs(10_000, 1_000)).toBe(5_000);
    expect(noInstanceWaitMs(3_600_000, 1_000)).toBe(NO_INSTANCE_MAX_WAIT_MS);
    // a configured retry longer than the cap is kept
    expect(noInstanceWaitMs(3_600_000, 120_000)).toBe(120_000);
  });

  it('looks again less and less often while none comes back, and at the first pace once one has', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const start = new Date('2026-12-01T00:00:00Z').getTime();
    jest.setSystemTime(start);
    let live: ParticipantInstanceEntity[] = [];
    const gateway = gatewayOver(() => live);
    // an hour of looks, each made when the one before said to look again
    let looks = 0;
    let wait = 0;
    while (Date.now() - start < 3_600_000) {
      const d = await gateway.deliver('accounts', build);
      if (d.kind !== 'deferred') throw new Error(`expected a deferral, got ${d.kind}`);
      expect(d.reason).toBe('no-live-instance');
      wait = d.retryAt - Date.now();
      looks++;
      jest.setSystemTime(d.retryAt);
    }
    // every second for an hour would be 3,600 looks, each two entries in the log
    expect(looks).toBeLessThan(150);
    expect(wait).toBeGreaterThanOrEqual(NO_INSTANCE_MAX_WAIT_MS);
    expect(wait).toBeLessThanOrEqual(NO_INSTANCE_MAX_WAIT_MS + 250);

    live = [instance];
    expect((await gateway.deliver('accounts', build)).kind).toBe('called');
    live = [];
    const again = await gateway.deliver('accounts', build);
    expect(again.kind === 'deferred' && again.retryAt - Date.now()).toBeLessThanOrEqual(1_000 + 250);
  });
});

describe('ParticipantGateway with a recovering instance beside a healthy one', () => {
  const two = [instance, { ...instance, instanceId: 'a-2' } as ParticipantInstanceEntity];

  it('sends the recovering instance its probe, although the other one could take the call', async () => {
    const gateway = gatewayOver(
      () => two,
      (id) => (id === 'a-2' ? 'probe' : 'closed'),
    );
    expect(await gateway.deliver('accounts', build)).toMatchObject({ kind: 'called', instanceId: 'a-2' });
  });

  it('a call due by a deadline too near for a probe that hangs and a try after it goes to the healthy instance', async () => {
    const gateway = gatewayOver(
      () => two,
      (id) => (id === 'a-2' ? 'probe' : 'closed'),
    );
    expect(await gateway.deliver('accounts', build, Date.now() + 3_000)).toMatchObject({
      kind: 'called',
      instanceId: 'a-1',
    });
    expect(await gateway.deliver('accounts', build, Date.now() + 60_000)).toMatchObject({
      kind: 'called',
      instanceId: 'a-2',
    });
  });

  it('a failed probe sends the call back at once, for the healthy instance to take', async () => {
    const gateway = gatewayOver(
      () => two,
      (id) => (id === 'a-2' ? 'probe' : 'closed'),
      (id) => (id === 'a-2' ? 'unknown' : 'yes'),
    );
    const d = await gateway.deliver('accounts', build);
    // marked so that, past the deadline too, the failed probe is not counted against the transaction
    expect(d).toMatchObject({ kind: 'deferred', reason: 'probe-failed', othersLive: true });
    expect(d.kind === 'deferred' && d.retryAt - Date.now()).toBeLessThanOrEqual(250);
  });
});

describe('ParticipantGateway on a coordinator with no share of the limit', () => {
  afterEach(() => jest.useRealTimers());

  it('defers at once, to come back soon, instead of waiting out LIMIT_WAIT_MS for a permit that never comes', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const gateway = gatewayOver(() => [instance]);
    participant.maxConcurrency = 1;
    gateway.peers = { count: 2, rank: 1 }; // the one call the limit allows is the other coordinator's
    try {
      let answer: Delivery | null = null;
      void gateway.deliver('accounts', build).then((d) => (answer = d));
      for (let i = 0; i < 10 && answer === null; i++) await new Promise((r) => setImmediate(r));
      const d = answer as Delivery | null;
      expect(d).toMatchObject({ kind: 'deferred', reason: 'limit' });
      expect(d!.kind === 'deferred' && d!.retryAt - Date.now()).toBeLessThanOrEqual(500);
      expect(gateway.called).toEqual([]);
    } finally {
      participant.maxConcurrency = null;
    }
  });
});

describe('ParticipantGateway with every circuit open', () => {
  it('holds an ordinary call back, but sends an urgent one (a 3PC decision) to a live instance anyway', async () => {
    const gateway = gatewayOver(
      () => [instance],
      () => Date.now() + 5_000,
    );
    expect(await gateway.deliver('accounts', build)).toMatchObject({ kind: 'deferred', reason: 'circuit-open' });
    expect(gateway.called).toEqual([]);
    expect(await gateway.deliver('accounts', build, undefined, true)).toMatchObject({
      kind: 'called',
      instanceId: 'a-1',
    });
    expect(gateway.called).toEqual(['a-1']);
  });
});

describe('ParticipantGateway at its participant’s limit', () => {
  it('holds an ordinary call back, but sends an urgent one (a 3PC decision) at once', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    const gateway = gatewayOver(() => [instance]);
    // the one call maxConcurrency allows hangs until released
    const caller = (gateway as unknown as { caller: { call: (r: unknown) => Promise<unknown> } }).caller;
    const answer = caller.call.bind(caller);
    caller.call = async (request) => (await held, answer(request));
    participant.maxConcurrency = 1;
    gateway.peers = { count: 1, rank: 0 };
    try {
      const slow = (_: ParticipantEntity, i: ParticipantInstanceEntity) =>
        ({ url: i.instanceId, transport: 'http', body: {}, timeoutMs: 10_000 }) as never;
      const first = gateway.deliver('accounts', slow);
      const ordinary = await gateway.deliver('accounts', slow);
      expect(ordinary).toMatchObject({ kind: 'deferred', reason: 'limit' });
      caller.call = answer;
      expect(await gateway.deliver('accounts', slow, undefined, true)).toMatchObject({ kind: 'called' });
      release();
      expect(await first).toMatchObject({ kind: 'called' });
    } finally {
      participant.maxConcurrency = null;
    }
  });
});
