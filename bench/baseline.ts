/**
 * The baseline: the floor cost of any durable saga, as a separate process.
 *
 * `POST /saga` with the coordinator's request body (`{branches: [{id, participant, payload}]}`): for
 * each branch in order, INSERT a log row announcing the call (autocommit, synchronous_commit on),
 * POST the participant's `/saga/action` with the participant-contract body, INSERT a log row with
 * the outcome; then answer 200 `{id, status: "committed"}`. No retries, no compensation, no state
 * machine, no queue, no group commit: two durable commits per branch and one HTTP call, nothing else.
 *
 * `POST /tcc`, the 4-call floor that TCC and 2PC are measured against: the same for `/tcc/try` on each
 * branch in order, then for `/tcc/confirm` on each; answers 200 `{id, status: "committed"}` when every
 * call answered 2xx. Four calls and eight durable commits for two branches.
 *
 * `POST /3pc`, the 6-call floor 3PC is measured against: the same with `/3pc/can-commit`, then
 * `/3pc/pre-commit`, then `/3pc/do-commit` on each branch. Six calls and twelve durable commits.
 *
 * Env: DATABASE_URL (its own database; the table is created here), PARTICIPANTS (JSON
 * `{"name": "http://127.0.0.1:PORT"}`, resolved once at start), PORT (0 = free port),
 * DB_POOL_SIZE (default 10, as the coordinator's). Prints `baseline ready: http://127.0.0.1:PORT`.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'pg';
import { Agent, request } from 'undici';
import { assertLoopback } from './lib';

const MAX_BODY = 1024 * 1024;
const CALL_TIMEOUT_MS = 10_000;

interface Branch {
  id: string;
  participant: string;
  payload?: unknown;
}

async function main(): Promise<void> {
  const databaseUrl = required('DATABASE_URL');
  const participants: Record<string, string> = JSON.parse(required('PARTICIPANTS'));
  for (const url of Object.values(participants)) assertLoopback(url);
  const poolSize = Number(process.env.DB_POOL_SIZE ?? 10);

  const pool = new Pool({ connectionString: databaseUrl, max: poolSize, options: '-c synchronous_commit=on' });
  await pool.query(`
    CREATE TABLE IF NOT EXISTS bench_saga_log (
      id          bigserial PRIMARY KEY,
      txn_id      text NOT NULL,
      branch_id   text NOT NULL,
      phase       text NOT NULL,
      kind        text NOT NULL,
      http_status integer,
      at          timestamptz NOT NULL DEFAULT now()
    )`);
  await pool.query(`CREATE INDEX IF NOT EXISTS bench_saga_log_txn ON bench_saga_log (txn_id)`);

  const agent = new Agent({ connections: 256, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 });
  const log = (txn: string, branch: string, phase: string, kind: string, status: number | null) =>
    pool.query(`INSERT INTO bench_saga_log (txn_id, branch_id, phase, kind, http_status) VALUES ($1, $2, $3, $4, $5)`, [
      txn,
      branch,
      phase,
      kind,
      status,
    ]);

  /** Each phase on every branch in order, each call between a log row announcing it and one recording its answer. */
  async function run(
    protocol: 'saga' | 'tcc' | '3pc',
    phases: string[],
    branches: Branch[],
  ): Promise<{ status: number; body: unknown }> {
    const id = randomUUID();
    const deadline = new Date(Date.now() + 60_000).toISOString();
    for (const phase of phases) {
      for (const b of branches) {
        const base = participants[b.participant];
        if (!base) return { status: 422, body: { status: 'rejected', error: `unknown participant ${b.participant}` } };
        await log(id, b.id, phase, 'call', null);
        let httpStatus: number | null = null;
        try {
          const res = await request(`${base}/${protocol}/${phase}`, {
            dispatcher: agent,
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': `${id}/${b.id}/${phase}` },
            body: JSON.stringify({
              transactionId: id,
              branchId: b.id,
              protocol,
              phase,
              attempt: 1,
              deadline,
              payload: b.payload ?? null,
            }),
            headersTimeout: CALL_TIMEOUT_MS,
            bodyTimeout: CALL_TIMEOUT_MS,
          });
          httpStatus = res.statusCode;
          await res.body.text();
        } catch {
          httpStatus = null;
        }
        await log(id, b.id, phase, 'outcome', httpStatus);
        if (httpStatus === null || httpStatus >= 300) {
          return { status: 502, body: { id, status: 'failed', branch: b.id, phase, httpStatus } };
        }
      }
    }
    return { status: 200, body: { id, status: 'committed' } };
  }
  const routes: Record<string, (branches: Branch[]) => Promise<{ status: number; body: unknown }>> = {
    '/saga': (branches) => run('saga', ['action'], branches),
    '/tcc': (branches) => run('tcc', ['try', 'confirm'], branches),
    '/3pc': (branches) => run('3pc', ['can-commit', 'pre-commit', 'do-commit'], branches),
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const reply = (status: number, body: unknown) => {
      const raw = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(raw) });
      res.end(raw);
    };
    const route = req.method === 'POST' ? routes[req.url ?? ''] : undefined;
    if (!route) {
      req.resume();
      return reply(404, { error: 'not found' });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      let branches: Branch[];
      try {
        branches = JSON.parse(Buffer.concat(chunks).toString('utf8')).branches;
        if (!Array.isArray(branches) || branches.length === 0) throw new Error('no branches');
      } catch (e) {
        return reply(400, { error: String(e) });
      }
      route(branches).then(
        (r) => reply(r.status, r.body),
        (e) => reply(500, { status: 'error', error: String(e) }),
      );
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`baseline ready: http://127.0.0.1:${port}\n`);

  const stop = () => {
    server.close();
    server.closeAllConnections();
    void Promise.allSettled([pool.end(), agent.close()]).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 3_000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

function required(name: string): string {
  const v = process.env[name];
  if (!v) {
    process.stderr.write(`baseline: ${name} is required\n`);
    process.exit(2);
  }
  return v;
}

void main().catch((e) => {
  process.stderr.write(`baseline failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
