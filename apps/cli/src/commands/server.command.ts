import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { UsageError } from '../cli-context';

/** The built coordinator, next to this CLI in dist/. */
const COORDINATOR_MAIN = resolve(__dirname, '../../../coordinator/src/main.js');

/**
 * `txc start`: the coordinator as a child with this terminal's stdio (what `npm start` runs, minus
 * the build). A child, not an import: the coordinator is NestJS, which the CLI never loads.
 * `txc migrate`: the log database's migrations against DATABASE_URL, and nothing else.
 */
export function serverCommands(): Command[] {
  const start = new Command('start')
    .description('run the coordinator (configured by its environment: PORT, DATABASE_URL, ...)')
    .action(async () => {
      const child = spawn(process.execPath, [COORDINATOR_MAIN], { stdio: 'inherit' });
      // the child gets a terminal's Ctrl-C itself; a signal sent to this process only is passed on
      const forward = (signal: NodeJS.Signals) => child.kill(signal);
      process.on('SIGINT', forward);
      process.on('SIGTERM', forward);
      const code = await new Promise<number>((done) =>
        child.on('exit', (exitCode, signal) => done(exitCode ?? (signal ? 1 : 0))),
      );
      process.exitCode = code;
    });

  const migrate = new Command('migrate')
    .description('run the database migrations against DATABASE_URL (no server)')
    .option('--database-url <url>', 'the log database (default: env DATABASE_URL)')
    .action(async (opts: { databaseUrl?: string }) => {
      const url = opts.databaseUrl ?? process.env.DATABASE_URL;
      if (!url) throw new UsageError('migrate needs DATABASE_URL (or --database-url)');
      // loaded here only: the other commands never touch the database
      const { migrateDatabase } = await import('#store');
      const applied = await migrateDatabase(url, 'each');
      process.stdout.write(
        applied.length ? applied.map((name) => `applied ${name}`).join('\n') + '\n' : 'already up to date\n',
      );
    });

  return [start, migrate];
}
