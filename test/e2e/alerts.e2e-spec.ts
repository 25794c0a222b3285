import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySignature } from '#participant';
import { apiClient, startTestStack, TestParticipant, type TestStack } from '#testing';

const SECRET = 'alert-secret-0123456789';

interface Received {
  id: string;
  kind: string;
  body: Record<string, unknown>;
  signed: boolean;
  status: number;
}

/**
 * A webhook receiver that answers 500 to the first two deliveries of every alert, then 200: it must
 * see each alert delivered (answered 200) exactly once, after two retries.
 */
async function receiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as Record<string, unknown>;
      const id = String(body.id);
      const status = received.filter((r) => r.id === id).length < 2 ? 500 : 200;
      const signed = verifySignature(SECRET, req.headers['txn-signature'], raw);
      received.push({ id, kind: String(body.kind), body, signed, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('alert webhooks', () => {
  let s: TestStack;
  let hook: Awaited<ReturnType<typeof receiver>>;
  let down: TestParticipant;

  beforeAll(async () => {
    hook = await receiver();
    s = await startTestStack('alerts', {
      env: {
        ALERT_WEBHOOK_URL: hook.url,
        ALERT_WEBHOOK_SECRET: SECRET,
        ALERT_RETRY_MS: '100',
        SWEEP_INTERVAL_MS: '300',
        CIRCUIT_CONSECUTIVE_FAILURES: '2',
        CIRCUIT_HALF_OPEN_MS: '500',
      },
    });
    down = await TestParticipant.start();
  });
  afterAll(async () => {
    await down.close();
    await s.close();
    await hook.close();
  });

  const delivered = (kind: string) => hook.received.filter((r) => r.kind === kind && r.status === 200);

  it('sends each alert once, signed, retrying on the receiver’s 500s', async () => {
    // a transaction parked as failed
    const failedId = `alert-failed-${Date.now()}`;
    s.participant.fault({ transactionId: failedId, branchId: 'b', phase: 'action', status: 409, times: 1 });
    s.participant.fault({ transactionId: failedId, branchId: 'a', phase: 'compensate', status: 500, times: 1 });
    const failed = await s.api.post('/v1/transactions?wait=15000', {
      id: failedId,
      protocol: 'saga',
      retry: { maxAttempts: 1, initialBackoffMs: 50, maxBackoffMs: 100 },
      branches: [
        { id: 'a', participant: 'p1', payload: {} },
        { id: 'b', participant: 'p1', payload: {} },
      ],
    });
    expect(failed.body.status).toBe('failed');

    // a participant whose circuit opens, and stays open through several failed probes
    down.fault({ status: 503, times: 1_000_000 });
    await s.api.post('/v1/participants', { name: 'down', url: down.url });
    const stuck = `alert-circuit-${Date.now()}`;
    await s.api.post('/v1/transactions', {
      id: stuck,
      protocol: 'saga',
      timeoutMs: 60_000,
      branches: [{ id: 'a', participant: 'down', payload: {} }],
    });
    // a participant whose only instance's lease lapses, and one whose only instance leaves
    await s.api.post('/v1/participants', { name: 'gone', url: 'http://127.0.0.1:9/', ttlSeconds: 1 });
    await s.api.post('/v1/participants', {
      name: 'left',
      url: 'http://127.0.0.1:9/',
      instanceId: 'only',
      ttlSeconds: 60,
    });
    expect((await s.api.delete('/v1/participants/left/instances/only')).status).toBe(200);

    const until = Date.now() + 30_000;
    while (
      (delivered('transaction.failed').length === 0 ||
        delivered('participant.circuit-open').length === 0 ||
        delivered('participant.expired').length < 2 ||
        down.calls.length < 5) &&
      Date.now() < until
    ) {
      await new Promise((r) => setTimeout(r, 200));
    }
    // let any duplicate that was going to come arrive: a few more sweeps and retry rounds
    await new Promise((r) => setTimeout(r, 2_000));

    expect(delivered('transaction.failed').map((r) => r.body.transactionId)).toEqual([failedId]);
    expect(delivered('participant.circuit-open').map((r) => r.body.participant)).toEqual(['down']);
    expect(
      delivered('participant.expired')
        .map((r) => r.body.participant)
        .sort(),
    ).toEqual(['gone', 'left']);
    const ids = new Set(hook.received.map((r) => r.id));
    for (const id of ids) {
      const deliveries = hook.received.filter((r) => r.id === id);
      // two 500s, then one 200; nothing after it
      expect(deliveries.map((r) => r.status)).toEqual([500, 500, 200]);
    }
    expect(hook.received.every((r) => r.signed)).toBe(true);
    // a failed delivery of an alert about a transaction is logged as a line about that transaction
    const retried = s.coordinator.log
      .split('\n')
      .filter((l) => l.includes(`alert transaction.failed:${failedId}:`) && l.includes('delivery failed'));
    expect(retried.length).toBeGreaterThan(0);
    for (const l of retried) expect(JSON.parse(l).txId).toBe(failedId);
    await s.api.post(`/v1/transactions/${stuck}/abort`, { reason: 'test over' });
  });

  // the second coordinator's first failing call published `closed` over the first one's `open`; its
  // own breaker opening then read as a new outage, and paged a second time
  it('raises no second circuit-open alert when another coordinator finds the same instance down', async () => {
    expect(delivered('participant.circuit-open')).toHaveLength(1); // the first coordinator's, above
    const other = s.coordinator.sibling();
    try {
      const api = apiClient(await other.start());
      const before = down.calls.length;
      await api.post('/v1/transactions', {
        id: `alert-circuit-other-${Date.now()}`,
        protocol: 'saga',
        timeoutMs: 60_000,
        branches: [{ id: 'a', participant: 'down', payload: {}, paths: { compensate: null } }],
      });
      // its breaker opens after two failures of its own; then time for any alert to be delivered
      const until = Date.now() + 15_000;
      while (down.calls.length < before + 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      expect(down.calls.length).toBeGreaterThanOrEqual(before + 2);
      await new Promise((r) => setTimeout(r, 3_000));
      expect(delivered('participant.circuit-open')).toHaveLength(1);
    } finally {
      await other.stop();
    }
  });
});
