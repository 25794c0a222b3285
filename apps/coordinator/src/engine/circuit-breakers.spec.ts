import { CallEndedByStop, CircuitBreakers } from './circuit-breakers';
import type { CallResult } from './participant-caller';

const answer = (outcome: CallResult['outcome']) => async (): Promise<CallResult> => ({
  outcome,
  httpStatus: outcome === 'unknown' ? 503 : 200,
  result: null,
  error: outcome === 'unknown' ? 'HTTP 503' : null,
  durationMs: 1,
});

describe('CircuitBreakers', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  const options = { consecutiveFailures: 3, failureRate: 0.5, window: 10, halfOpenAfterMs: 5_000 };

  it('opens after failures in a row, refuses calls, lets one probe through, and closes on its answer', async () => {
    const changes: string[] = [];
    const breakers = new CircuitBreakers(options, (c) => changes.push(`${c.instanceId}:${c.state}`));
    const circuit = breakers.of('svc', 'a');
    for (let i = 0; i < 3; i++) expect(await circuit.run(answer('unknown'))).toMatchObject({ called: true });
    expect(breakers.stateOf('svc', 'a')).toBe('open');
    expect(await circuit.run(answer('yes'))).toEqual({ called: false });
    expect(circuit.availability()).toBe(Date.now() + 5_000);

    jest.advanceTimersByTime(5_000);
    expect(circuit.availability()).toBe('probe');
    const failedProbe = await circuit.run(answer('unknown'));
    expect(failedProbe).toMatchObject({ called: true, probe: true });
    expect(breakers.stateOf('svc', 'a')).toBe('open');

    jest.advanceTimersByTime(5_000);
    expect(await circuit.run(answer('yes'))).toMatchObject({ called: true, probe: true });
    expect(breakers.stateOf('svc', 'a')).toBe('closed');
    // its first calls failed: nothing told until it opened (another coordinator's `open` stays shown)
    expect(changes).toEqual(['a:open', 'a:half-open', 'a:open', 'a:half-open', 'a:closed']);
  });

  it('counts no call this coordinator ended itself, stopping: the circuit stays closed', async () => {
    const changes: string[] = [];
    const breakers = new CircuitBreakers(options, (c) => changes.push(`${c.instanceId}:${c.state}`));
    const circuit = breakers.of('svc', 'c');
    const ended = async (): Promise<CallResult> => {
      throw new CallEndedByStop({ ...(await answer('unknown')()), error: 'UND_ERR_DESTROYED' });
    };
    for (let i = 0; i < 10; i++) {
      expect(await circuit.run(ended)).toMatchObject({ called: true, result: { outcome: 'unknown' } });
    }
    expect(breakers.stateOf('svc', 'c')).toBe('closed');
    expect(changes).toEqual([]);
  });

  it('counts a definite no as an answer, and opens on the failure rate over the window', async () => {
    const breakers = new CircuitBreakers(options);
    const circuit = breakers.of('svc', 'b');
    // two failures, then a definite no: never three failures in a row, but two thirds of the calls fail
    const pattern = (i: number) => answer(i % 3 === 2 ? 'no' : 'unknown');
    for (let i = 0; i < 9; i++) await circuit.run(pattern(i));
    expect(breakers.stateOf('svc', 'b')).toBe('closed'); // the window is not full yet
    await circuit.run(pattern(9));
    expect(breakers.stateOf('svc', 'b')).toBe('open');
    expect(breakers.stateOf('svc', 'other')).toBeNull();
  });

  it('tells a fresh breaker’s state after its first answer, once, so a stale published state is replaced', async () => {
    const changes: string[] = [];
    const breakers = new CircuitBreakers(options, (c) => changes.push(`${c.instanceId}:${c.state}`));
    const circuit = breakers.of('svc', 'b');
    for (let i = 0; i < 2; i++) await circuit.run(answer('yes'));
    expect(changes).toEqual(['b:closed']);
  });

  // a second coordinator's first failing call published `closed` over the first one's `open`; its own
  // opening then read as closed -> open in the registry, and paged a second time for the same outage
  it('tells nothing after first calls that fail, so another coordinator’s published open stays', async () => {
    const changes: string[] = [];
    const breakers = new CircuitBreakers(options, (c) => changes.push(`${c.instanceId}:${c.state}`));
    const circuit = breakers.of('svc', 'd');
    for (let i = 0; i < 2; i++) await circuit.run(answer('unknown'));
    expect(changes).toEqual([]);
    await circuit.run(answer('no')); // a definite no is an answer: the instance is up
    expect(changes).toEqual(['d:closed']);
  });

  // each coordinator's breaker is fed by its own calls: one whose breaker was still closed went on
  // calling an instance another had found down, and burned transactions' attempts until it opened too
  it('holds back while another coordinator’s published open is younger than a half-open wait', () => {
    const circuit = new CircuitBreakers(options).of('svc', 'e');
    const now = Date.now();
    const published = (circuit: string, agoMs: number) => ({ circuit, circuitChangedAt: new Date(now - agoMs) });
    expect(circuit.availabilityWith(published('open', 1_000))).toBe(now + 4_000);
    expect(circuit.availabilityWith(published('half-open', 0))).toBe(now + 5_000);
    expect(circuit.availabilityWith(published('open', 5_000))).toBe('closed'); // its probe is due: go by this breaker
    expect(circuit.availabilityWith(published('closed', 0))).toBe('closed');
    expect(circuit.availabilityWith({ circuit: 'open', circuitChangedAt: null })).toBe('closed');
    // a publisher whose clock runs ahead holds no longer than one wait
    expect(circuit.availabilityWith(published('open', -60_000))).toBe(now + 5_000);
  });

  it('goes by its own word when it is newer than the published state', async () => {
    const circuit = new CircuitBreakers(options).of('svc', 'f');
    const openedBefore = { circuit: 'open', circuitChangedAt: new Date(Date.now() - 1) };
    jest.advanceTimersByTime(10);
    await circuit.run(answer('yes')); // its first answer: it tells `closed`, after that open
    expect(circuit.availabilityWith(openedBefore)).toBe('closed');
    // its own open state is never lifted by a published closed one
    for (let i = 0; i < 3; i++) await circuit.run(answer('unknown'));
    expect(circuit.availabilityWith({ circuit: 'closed', circuitChangedAt: new Date() })).toBe(Date.now() + 5_000);
  });
});
