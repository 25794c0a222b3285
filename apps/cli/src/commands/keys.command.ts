import { Command, Option } from 'commander';
import { CoordinatorUnreachableError, StoreUnavailableError, type ApiKeyView, type CreateKeyRequest } from '#client';
import { cliContext } from '../cli-context';
import { formatTable } from '../table';
import { assertKeyName, createKeyInDatabase } from './first-key';

type Role = CreateKeyRequest['role'];
// a Record, so that a role added to the contracts fails to compile here until it is listed
const ROLE_SET: Record<Role, true> = { viewer: true, client: true, participant: true, operator: true, admin: true };
const ROLES = Object.keys(ROLE_SET) as Role[];

/** `txc keys list|create|revoke`: API keys, over the API (an admin key is needed). */
export function keysCommand(): Command {
  const keys = new Command('keys').description('API keys (admin)');

  keys
    .command('list')
    .description('the keys from API_KEYS and the stored ones (never their secrets)')
    .action(async (_opts: unknown, command: Command) => {
      const ctx = cliContext(command);
      ctx.print({ items: await ctx.client.listKeys() }, (page) => formatKeys(page.items));
    });

  keys
    .command('create <name>')
    .description('create a stored key; its secret is printed this once')
    .addOption(new Option('--role <role>', 'what the key may do').choices(ROLES).makeOptionMandatory())
    .option('--database-url <url>', 'write it to this database instead of calling the API (the first admin key)')
    .action(async (name: string, opts: { role: Role; databaseUrl?: string }, command: Command) => {
      const ctx = cliContext(command);
      assertKeyName(name);
      const created = opts.databaseUrl
        ? await createKeyInDatabase(opts.databaseUrl, { name, role: opts.role })
        : await ctx.client.createKey({ name, role: opts.role }).catch((error: unknown) => {
            // never repeated (its answer holds the only copy of the secret): say what a lost answer
            // leaves, or a 503 from a log that did not answer in time (the write may still land)
            const lost = error instanceof CoordinatorUnreachableError && !error.neverSent;
            if (!lost && !(error instanceof StoreUnavailableError)) throw error;
            const detail = (error as Error).message.replace(/^the coordinator did not answer: /, '');
            throw new CoordinatorUnreachableError(
              `${detail}; if the request got through, the key "${name}" exists and its secret is lost: ` +
                `\`txc keys list\` shows it then; revoke it and create it again`,
              error,
            );
          });
      ctx.print(created, (k) => `${formatKeys([k])}\n\nsecret (shown this once, keep it now): ${k.key}`);
    });

  keys
    .command('revoke <name>')
    .description('revoke a stored key')
    .action(async (name: string, _opts: unknown, command: Command) => {
      const ctx = cliContext(command);
      await ctx.client.revokeKey(name);
      ctx.print({ name, revoked: true }, () => `${name}: revoked`);
    });

  return keys;
}

function formatKeys(items: ApiKeyView[]): string {
  return formatTable(
    ['NAME', 'ROLE', 'SOURCE', 'CREATED', 'CREATED BY'],
    items.map((k) => [k.name, k.role, k.source, k.createdAt, k.createdBy]),
  );
}
