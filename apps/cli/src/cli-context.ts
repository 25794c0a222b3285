import type { Command } from 'commander';
import { CoordinatorClient } from '#client';

/** The global options, as commander parses them. */
export interface GlobalOptions {
  url: string;
  apiKey?: string;
  json?: boolean;
}

/** A mistake in how the command was called (exit 2), found after commander parsed it. */
export class UsageError extends Error {}

/** What a command's action needs: a client on the global options, and where its output goes. */
export interface CliContext {
  client: CoordinatorClient;
  json: boolean;
  /** Prints `value` as indented JSON with `--json`, else the text `human()` makes of it. */
  print<T>(value: T, human: (value: T) => string): void;
}

/** The context of the command being run, from the global options of its root program. */
export function cliContext(command: Command): CliContext {
  const options = command.optsWithGlobals<GlobalOptions>();
  const json = options.json === true;
  let client: CoordinatorClient | undefined;
  return {
    // made on first use: a command that calls no API (`keys create --database-url`) needs no URL or key
    get client() {
      return (client ??= clientOf(options));
    },
    json,
    print(value, human) {
      process.stdout.write(`${json ? JSON.stringify(value, null, 2) : human(value)}\n`);
    },
  };
}

/** The client of the global options; a key no header can carry is a misuse (exit 2), told without the key. */
function clientOf(options: GlobalOptions): CoordinatorClient {
  const url = coordinatorUrl(options.url);
  try {
    // a CLI call retries briefly: a person is waiting, and a script can run it again
    return new CoordinatorClient({ url, apiKey: options.apiKey ?? process.env.TXC_API_KEY, retry: { maxAttempts: 3 } });
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(`--api-key (or TXC_API_KEY): ${error.message}`);
    throw error;
  }
}

/** `--url` (or `TXC_URL`) as the client takes it: an http(s) URL of the coordinator, not of its `/v1`. */
export function coordinatorUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--url must be the coordinator's http(s) URL, such as http://127.0.0.1:7070 (got "${text}")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--url must be an http or https URL (got "${text}")`);
  }
  if (/\/v1\/?$/.test(url.pathname)) {
    throw new UsageError(`--url is the coordinator without /v1 (got "${text}"): the commands add it`);
  }
  return text;
}
