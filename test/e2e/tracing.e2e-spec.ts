import { createServer, type Server } from 'node:http';
import { Pool } from 'pg';
import { phasePaths } from '#participant';
import {
  freePort,
  freshDatabase,
  startBank,
  startTestStack,
  stopBank,
  type BankProcess,
  type FreshDatabase,
  type TestStack,
} from '#testing';

/** One span as the OTLP/HTTP JSON encoding carries it, with its attributes flattened. */
interface ReceivedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  attributes: Record<string, string | number>;
}

/** An OTLP/HTTP receiver (JSON encoding) in the test process: both real processes export to it. */
async function otlpReceiver(): Promise<{ server: Server; url: string; spans: ReceivedSpan[] }> {
  const spans: ReceivedSpan[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces' && String(req.headers['content-type']).includes('json')) {
        spans.push(...decode(JSON.parse(raw)));
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, spans };
}

function decode(body: any): ReceivedSpan[] {
  const value = (v: any) =>
    v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.doubleValue ?? v.boolValue));
  const flat = (attrs: any[] = []) => Object.fromEntries(attrs.map((a) => [a.key, value(a.value)]));
  return (body.resourceSpans ?? []).flatMap((rs: any) =>
    (rs.scopeSpans ?? []).flatMap((ss: any) =>
      (ss.spans ?? []).map((s: any) => ({
        service: String(flat(rs.resource?.attributes)['service.name']),
        name: s.name,
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId ?? '',
        attributes: flat(s.attributes),
      })),
    ),
  );
}

describe('tracing: one trace across the coordinator and SDK participants (OTLP/HTTP)', () => {
  let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
  let s: TestStack;
  let bankDb: FreshDatabase;
  let db: Pool;
  const banks: BankProcess[] = [];

  beforeAll(async () => {
    receiver = await otlpReceiver();
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' };
    s = await startTestStack('tracing', { env: otel });
    bankDb = await freshDatabase('tracing_bank');
    const port = await freePort();
    const common = { DATABASE_URL: bankDb.url, COORDINATOR_URL: s.api.base, ...otel };
    banks.push(await startBank({ ...common, PORT: String(port), PARTICIPANT_NAME: 'bank', OTEL_SERVICE_NAME: 'bank' }));
    banks.push(
      await startBank({
        ...common,
        TRANSPORT: 'nats',
        BROKER_URL: 'nats://127.0.0.1:4222',
        PARTICIPANT_NAME: `bank-nats-${process.pid}`,
        OTEL_SERVICE_NAME: 'bank-nats',
      }),
    );
    db = new Pool({ connectionString: bankDb.url, max: 2 });
    db.on('error', () => undefined);
  });

  afterAll(async () => {
    for (const b of banks) await stopBank(b); // a graceful stop flushes the spans still batched
    await db?.end();
    await s?.close();
    await bankDb?.drop();
    receiver?.server.close();
  });

  async function account(balance: number): Promise<string> {
    const id = `acc-${Math.random().toString(36).slice(2)}`;
    await db.query('INSERT INTO accounts (id, balance) VALUES ($1, $2)', [id, balance]);
    return id;
  }

  /** Waits until the receiver holds every span `expect` asks for, then returns the transaction's spans. */
  async function spansOf(txId: string, done: (spans: ReceivedSpan[]) => boolean): Promise<ReceivedSpan[]> {
    const mine = () => receiver.spans.filter((x) => x.attributes['txc.transaction.id'] === txId);
    for (const end = Date.now() + 15_000; Date.now() < end && !done(mine());)
      await new Promise((r) => setTimeout(r, 200));
    return mine();
  }

  it('a saga that compensates: the transaction span, a call span per delivery, and the participant continuing each', async () => {
    const [a, poor] = [await account(100), await account(5)];
    const nats = `bank-nats-${process.pid}`;
    const r = await s.api.post('/v1/transactions?wait=10000', {
      protocol: 'saga',
      branches: [
        { id: 'credit', participant: 'bank', payload: { account: a, amount: 10 }, paths: phasePaths('saga', 'credit') },
        {
          id: 'debit',
          participant: nats,
          payload: { account: poor, amount: 1000 },
          paths: phasePaths('saga', 'debit'),
        },
      ],
    });
    expect(r.body.status).toBe('aborted');
    const id = r.body.id;
    // credit action, debit action (no), credit compensate: three calls, each answered by a participant
    const spans = await spansOf(
      id,
      (x) =>
        x.filter((s) => s.name.startsWith('txc.call')).length >= 3 &&
        x.filter((s) => s.name.startsWith('txc.participant')).length >= 3 &&
        x.some((s) => s.name === 'txc.transaction' && s.attributes['txc.outcome'] === 'aborted'),
    );

    const root = spans.find((x) => x.name === 'txc.transaction' && x.attributes['txc.outcome'] === 'aborted')!;
    expect(root).toMatchObject({ service: 'txc-coordinator', attributes: { 'txc.protocol': 'saga' } });
    // one trace: every span of the transaction, in both processes, carries the same trace id
    expect(new Set(spans.map((x) => x.traceId))).toEqual(new Set([root.traceId]));

    const calls = spans.filter((x) => x.name.startsWith('txc.call'));
    const summary = calls
      .map(
        (c) =>
          `${c.attributes['txc.branch']}:${c.attributes['txc.phase']}:${c.attributes['txc.attempt']}:${c.attributes['txc.outcome']}`,
      )
      .sort();
    expect(summary).toEqual(['credit:action:1:yes', 'credit:compensate:1:yes', 'debit:action:1:no']);
    for (const call of calls) {
      expect(call.parentSpanId).toBe(root.spanId);
      expect(call.attributes).toMatchObject({ 'txc.transaction.id': id, 'txc.protocol': 'saga' });
      // the participant's span is the call span's child: the traceparent crossed HTTP and NATS
      const served = spans.find((x) => x.name.startsWith('txc.participant') && x.parentSpanId === call.spanId);
      expect(served).toMatchObject({
        service: call.attributes['txc.participant'] === 'bank' ? 'bank' : 'bank-nats',
        attributes: {
          'txc.transaction.id': id,
          'txc.protocol': 'saga',
          'txc.branch': call.attributes['txc.branch'],
          'txc.phase': call.attributes['txc.phase'],
          'txc.attempt': call.attributes['txc.attempt'],
          'txc.outcome': call.attributes['txc.outcome'],
        },
      });
    }
  });

  it('an activation that makes no call has its transaction span too (an interactive transaction aborted empty)', async () => {
    const id = `trace-empty-${Date.now()}`;
    expect((await s.api.post('/v1/transactions', { id, protocol: 'tcc', mode: 'interactive' })).status).toBe(201);
    expect((await s.api.post(`/v1/transactions/${id}/abort`, { reason: 'nothing to do' })).status).toBe(202);
    const spans = await spansOf(id, (x) =>
      x.some((s) => s.name === 'txc.transaction' && s.attributes['txc.outcome'] === 'aborted'),
    );
    const roots = spans.filter((x) => x.name === 'txc.transaction');
    expect(roots.map((x) => x.attributes['txc.outcome'])).toContain('aborted');
    expect(roots[0]).toMatchObject({ attributes: { 'txc.transaction.id': id, 'txc.protocol': 'tcc' } });
  });
});
