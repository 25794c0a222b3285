import { Pool } from 'pg';
import { startTestStack, type TestStack } from '#testing';

/** The coordinator's JSON log lines (what it printed that parses as a JSON object). */
function jsonLines(output: string): Record<string, any>[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

async function scrape(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

const quick = { maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 100 };

describe('logs and metrics (coordinator process on Redis)', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack('observability', { env: { LOG_LEVEL: 'debug' } });
  });
  afterAll(() => s.close());

  it('writes JSON lines, each line about a transaction carrying txId, and branch for a call', async () => {
    const id = `logs-${Date.now()}`;
    s.participant.fault({ transactionId: id, branchId: 'b', phase: 'action', status: 500, times: 1 });
    const r = await s.api.post('/v1/transactions?wait=10000', {
      id,
      protocol: 'saga',
      retry: quick,
      branches: [
        { id: 'a', participant: 'p1' },
        { id: 'b', participant: 'p1' },
      ],
    });
    expect(r.body.status).toBe('committed');
    const lines = jsonLines(s.coordinator.log);
    for (const line of lines) expect(line).toMatchObject({ level: expect.any(String), time: expect.any(Number) });
    const about = lines.filter((l) => l.txId === id);
    expect(about.find((l) => l.branch === 'b' && l.level === 'warn')?.msg).toMatch(
      /^action to p1 \(attempt 1\): unknown \(.*500/,
    );
    expect(about.filter((l) => l.branch === 'a').map((l) => l.msg)).toEqual(['action to p1 (attempt 1): yes']);
    expect(about.some((l) => l.branch === undefined && l.msg === 'running -> committed')).toBe(true);
    // no line names the transaction without carrying its id
    expect(lines.filter((l) => JSON.stringify(l.msg).includes(id) && l.txId !== id)).toEqual([]);
    // the start-up line scripts wait for is still there
    expect(s.coordinator.log).toMatch(/coordinator ready: API http:\/\/[^/\s]+\/v1/);
  });

  it('counts log-writer batches, the backlog, failed transactions, queue jobs and calls by participant and outcome', async () => {
    const id = `failed-${Date.now()}`;
    s.participant.fault({ transactionId: id, branchId: 'b', phase: 'action', status: 500, times: 100 });
    s.participant.fault({ transactionId: id, branchId: 'a', phase: 'compensate', status: 503, times: 100 });
    const r = await s.api.post('/v1/transactions?wait=15000', {
      id,
      protocol: 'saga',
      retry: quick,
      branches: [
        { id: 'a', participant: 'p1' },
        { id: 'b', participant: 'p1' },
      ],
    });
    expect(r.body.status).toBe('failed');
    const text = await scrape(s.coordinator.url);
    expect(text).toMatch(/^txc_log_writer_batch_size_count [1-9]/m);
    expect(text).toMatch(/^txc_log_writer_backlog \d+$/m);
    expect(text).toMatch(/^txc_transactions_failed 1$/m);
    expect(text).toMatch(/^txc_queue_jobs\{state="delayed"\} \d+$/m);
    expect(text).toMatch(/^txc_queue_jobs\{state="waiting"\} \d+$/m);
    expect(text).toMatch(
      /^txc_participant_calls_total\{participant="p1",phase="compensate",outcome="unknown"\} [1-9]/m,
    );
  });
});

describe('readiness on the queue backend of BullMQ on Postgres', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack('ready-pg', { redis: false });
  });
  afterAll(() => s.close());

  it('is ready while the queue tables answer, and not ready once they are gone', async () => {
    const ready = await s.api.get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.details.queue).toEqual({ status: 'up', backend: 'postgres' });
    const pool = new Pool({ connectionString: s.db.url, max: 1 });
    try {
      await pool.query('DROP SCHEMA txc_queue CASCADE');
    } finally {
      await pool.end();
    }
    const broken = await s.api.get('/health/ready');
    expect(broken.status).toBe(503);
    expect(broken.body.details).toMatchObject({ postgres: { status: 'up' }, queue: { status: 'down' } });
  });
});
