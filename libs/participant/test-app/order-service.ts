import { createServer } from 'node:http';
import { Client, Pool } from 'pg';
import { Outbox } from '../src/outbox';

/**
 * The README's order service as a process, for the reliable-message tests: it commits an order
 * and, in the same local transaction, a message to `inventory` and `shipping` through the
 * participant SDK's outbox. Plain `pg` (no NestJS, no TypeORM), so that hundreds of senders start
 * quickly; the Nest module's check route is tested with the bank test app.
 *
 * - `MODE=serve`: answers the coordinator's check (`POST /msg/check`) from the outbox's markers on
 *   PORT (another instance of the order service, alive while a sender dies); prints
 *   `order service ready: <url>`.
 * - `MODE=send ORDER_ID=…`: places one order and exits, or SIGKILLs itself at CRASH_AT:
 *   `before-commit` (the order and marker written, the local transaction open), or `after-commit`
 *   (committed, not yet submitted). Prints `order placed: <id>` after the submit.
 */
const ORDER_SCHEMA = `CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, sku text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`;

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

async function serve(): Promise<void> {
  const pool = new Pool({ connectionString: env('DATABASE_URL'), max: 4 });
  const outbox = new Outbox({ coordinatorUrl: env('COORDINATOR_URL'), participant: 'orders', db: pool });
  await outbox.install();
  await pool.query(ORDER_SCHEMA);
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const answer = async () => {
        const body = JSON.parse(raw) as { transactionId?: unknown; phase?: unknown };
        if (req.url !== outbox.checkPath || body.phase !== 'check' || typeof body.transactionId !== 'string') {
          return { status: 400, body: { detail: 'not a check' } };
        }
        return { status: 200, body: await outbox.check(body.transactionId) };
      };
      void answer()
        .catch((error: Error) => ({ status: 500, body: { detail: error.message } }))
        .then(({ status, body }) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        });
    });
  });
  const port = Number(env('PORT'));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  process.stdout.write(`order service ready: http://127.0.0.1:${port}\n`);
}

async function send(): Promise<void> {
  const id = env('ORDER_ID');
  const crashAt = process.env.CRASH_AT;
  const client = new Client({ connectionString: env('DATABASE_URL') });
  await client.connect();
  const outbox = new Outbox({ coordinatorUrl: env('COORDINATOR_URL'), participant: 'orders', db: client });
  await client.query('BEGIN');
  await client.query('INSERT INTO orders (id, sku) VALUES ($1, $2)', [id, 'A-1']);
  const message = await outbox.send(client, {
    id,
    checkAfterMs: Number(process.env.CHECK_AFTER_MS ?? 10_000),
    timeoutMs: Number(process.env.MESSAGE_TIMEOUT_MS ?? 60_000),
    retry: { initialBackoffMs: 100, maxBackoffMs: 1_000 },
    deliveries: [
      { id: 'inventory', participant: 'inventory', payload: { order: id, sku: 'A-1' } },
      { id: 'shipping', participant: 'shipping', payload: { order: id } },
    ],
  });
  // a real SIGKILL: Postgres sees the connection drop and rolls the open transaction back
  if (crashAt === 'before-commit') await die();
  await client.query('COMMIT');
  if (crashAt === 'after-commit') await die();
  await message.submit();
  process.stdout.write(`order placed: ${id}\n`);
  await client.end();
}

/** SIGKILLs this process: nothing after it runs, no handler, no flush. */
async function die(): Promise<never> {
  process.kill(process.pid, 'SIGKILL');
  return new Promise<never>(() => undefined);
}

(env('MODE') === 'serve' ? serve() : send()).catch((error: Error) => {
  process.stderr.write(`order service failed: ${error.stack ?? error}\n`);
  process.exit(1);
});
