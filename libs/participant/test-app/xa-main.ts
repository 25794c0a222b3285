import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import {
  Barrier,
  BusinessRejection,
  coordinatorDecisions,
  HandlerRegistry,
  ParticipantLease,
  PhaseDispatcher,
  PostgresXa,
  recoverInDoubt,
  registerXaTwoPhase,
  type PhaseKey,
} from '../src';
import { Phase } from '#contracts';

/**
 * A 2PC participant on Postgres prepared transactions (the SDK's PostgresXa), framework-free, as a
 * process for test/e2e/xa.e2e-spec.ts: prepare moves `delta` on an account inside a transaction it
 * PREPAREs (the row stays locked), commit is COMMIT PREPARED, rollback ROLLBACK PREPARED. At start,
 * before serving, it resolves the prepared transactions a crash left behind with the coordinator's
 * decision and prints `recovered: <json report>`; then `participant ready: <url>`.
 *
 * Test surface: `POST /_gate {"closed": true}` makes commit and rollback answer 503 (unknown: the
 * coordinator retries) without touching anything, so a test can look at a prepared branch, or kill
 * the process, between the phases; `"prepare": true` holds prepare back too; `{"closed": false}`
 * lets everything through again.
 * Env: DATABASE_URL, COORDINATOR_URL, PARTICIPANT_NAME, PORT, GID_PREFIX (one per participant sharing a server).
 */
async function main(): Promise<void> {
  const env = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is required`);
    return value;
  };
  const coordinatorUrl = env('COORDINATOR_URL');
  const pool = new Pool({ connectionString: env('DATABASE_URL'), max: 4 });
  pool.on('error', () => undefined);
  const dataSource = new DataSource({ type: 'postgres', url: env('DATABASE_URL'), poolSize: 4 });
  await dataSource.initialize();
  await pool.query('CREATE TABLE IF NOT EXISTS accounts (id text PRIMARY KEY, balance integer NOT NULL)');
  const barrier = new Barrier();
  await barrier.install(dataSource);
  const xa = new PostgresXa({ pool, gidPrefix: process.env.GID_PREFIX });
  await xa.install();

  const report = await recoverInDoubt(xa, coordinatorDecisions(coordinatorUrl));
  process.stdout.write(`recovered: ${JSON.stringify({ ...report, errors: report.errors.map((e) => e.gid) })}\n`);

  const registry = registerXaTwoPhase<{ account: string; delta: number }, { balance: number }>(
    new HandlerRegistry(),
    xa,
    async ({ payload }, client) => {
      const { rows } = await client.query<{ balance: number }>(
        'UPDATE accounts SET balance = balance + $2 WHERE id = $1 RETURNING balance',
        [payload.account, payload.delta],
      );
      if (rows.length === 0) throw new BusinessRejection(`unknown account ${payload.account}`);
      if (rows[0].balance < 0) throw new BusinessRejection('insufficient funds', { account: payload.account });
      return { balance: rows[0].balance };
    },
  );
  const dispatcher = new PhaseDispatcher({
    registry,
    dataSource,
    barrier,
    onError: (error, path) => process.stderr.write(`xa participant: ${path} failed: ${String(error)}\n`),
  });

  let gate = { closed: false, prepare: false };
  const server = createServer((request, response) => {
    void answer(request, response).catch((error: Error) => {
      response.writeHead(500).end(error.message);
    });
  });
  async function answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const raw = await bodyOf(request);
    if (request.url === '/_gate') {
      const asked = JSON.parse(raw) as { closed: boolean; prepare?: boolean };
      gate = { closed: asked.closed, prepare: asked.prepare === true };
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(gate));
      return;
    }
    const phase = /^\/2pc\/(prepare|commit|rollback)$/.exec(request.url ?? '')?.[1] as Phase | undefined;
    if (request.method !== 'POST' || !phase) {
      response.writeHead(404).end();
      return;
    }
    if (gate.closed && (phase !== Phase.Prepare || gate.prepare)) {
      // 503 = outcome unknown: the coordinator keeps its decision and delivers the phase again later
      response.writeHead(503).end();
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      response.writeHead(400).end();
      return;
    }
    const key: PhaseKey = { phase };
    const reply = await dispatcher.dispatch(key, { body, rawBody: raw, headers: request.headers });
    response.writeHead(reply.status, reply.headers).end(JSON.stringify(reply.body));
  }

  const port = Number(env('PORT'));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${port}`;
  const lease = new ParticipantLease({
    coordinatorUrl,
    name: env('PARTICIPANT_NAME'),
    url,
    ttlSeconds: 60,
    heartbeatMs: 20_000,
  });
  await lease.start();
  process.stdout.write(`participant ready: ${url}\n`);

  process.once('SIGTERM', () => {
    void (async () => {
      await lease.stop();
      server.close();
      await dataSource.destroy();
      await pool.end();
      process.exit(0);
    })();
  });
}

function bodyOf(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

main().catch((error: Error) => {
  process.stderr.write(`xa participant failed to start: ${error.stack ?? error}\n`);
  process.exit(1);
});
