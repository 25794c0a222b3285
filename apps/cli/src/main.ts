#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { CoordinatorUnreachableError, isProblemError } from '#client';
import { UsageError } from './cli-context';
import { benchCommand } from './commands/bench.command';
import { keysCommand } from './commands/keys.command';
import { participantsCommand } from './commands/participants.command';
import { serverCommands } from './commands/server.command';
import { statsCommand } from './commands/stats.command';
import { txCommand } from './commands/tx.command';

/**
 * `txc`: the coordinator from a terminal or a script. Every command but `start` and `migrate` talks
 * to the HTTP API with an API key, never to the database. Exit codes: 0 done, 1 the coordinator
 * refused or could not be reached (its problem's detail on stderr), 2 the command was misused.
 */
export function program(): Command {
  const root = new Command('txc')
    .description('operate a txc coordinator')
    .option('--url <url>', 'the coordinator (env TXC_URL)', process.env.TXC_URL ?? 'http://127.0.0.1:7070')
    // no default from the environment here: commander would print the secret in every help text
    .option('--api-key <key>', 'sent as a bearer token (env TXC_API_KEY)')
    .option('--json', 'print JSON for scripts instead of tables')
    .showHelpAfterError();
  for (const command of [
    txCommand(),
    participantsCommand(),
    keysCommand(),
    statsCommand(),
    benchCommand(),
    ...serverCommands(),
  ]) {
    root.addCommand(command);
  }
  throwInsteadOfExit(root);
  return root;
}

/** Every command, nested ones too, throws its usage errors for `main` to map to exit 2. */
function throwInsteadOfExit(command: Command): void {
  command.exitOverride().showHelpAfterError();
  command.commands.forEach(throwInsteadOfExit);
}

async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // help and version are "errors" to commander that exit 0; commander printed the message
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`txc: ${error.message}\n`);
      return 2;
    }
    if (isProblemError(error)) {
      process.stderr.write(`txc: ${error.detail} (${error.status})\n`);
      return 1;
    }
    if (error instanceof CoordinatorUnreachableError) {
      process.stderr.write(`txc: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`txc: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

let finished = false;
// a request whose promise never settles (Node's fetch on a connection reset as it opens) empties the
// event loop: without this the process would end 0 having printed nothing
process.once('beforeExit', () => {
  if (finished) return;
  process.stderr.write('txc: the coordinator could not be reached (the connection ended without an answer)\n');
  process.exitCode = 1;
});
void main(process.argv).then((code) => {
  finished = true;
  // `start` sets its child's exit code; anything else ends with the outcome of its command
  process.exitCode = process.exitCode || code;
});
