import { Command, InvalidArgumentError, Option } from 'commander';
import { Attention, TransactionStatus, type TransactionPage, type TransactionView } from '#client';
import { cliContext } from '../cli-context';
import { formatFields, formatTable } from '../table';

/** `--limit`: a whole number from 1 up (the coordinator enforces its own ceiling). */
export function parseLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw new InvalidArgumentError('must be a whole number from 1');
  return n;
}

/** `--status a,b`: each one a known status. */
export function parseStatuses(value: string): TransactionStatus[] {
  const known = Object.values(TransactionStatus) as string[];
  const statuses = value.split(',').map((s) => s.trim());
  const unknown = statuses.filter((s) => !known.includes(s));
  if (unknown.length)
    throw new InvalidArgumentError(`unknown status ${unknown.join(', ')} (one of ${known.join(', ')})`);
  return statuses as TransactionStatus[];
}

/** `txc tx list|show|abort|replay|retry`: transactions, read and acted on over the API. */
export function txCommand(): Command {
  const tx = new Command('tx').description('list, inspect and act on transactions');

  tx.command('list')
    .description('transactions, newest first (one page)')
    .option('--status <statuses>', 'only these statuses (comma-separated)', parseStatuses)
    .option('--participant <name>', 'only those involving this participant')
    .addOption(new Option('--attention <kind>', 'only those needing this attention').choices(Object.values(Attention)))
    .option('--limit <n>', 'at most n (default: the coordinator page size)', parseLimit)
    .option('--cursor <cursor>', 'the page after this cursor (printed by the previous page)')
    .action(async (opts: ListOptions, command: Command) => {
      const ctx = cliContext(command);
      const page = await ctx.client.listTransactions(opts);
      ctx.print(page, formatPage);
    });

  tx.command('show <id>')
    .description('a transaction: its header, branches and attempts with their errors')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const ctx = cliContext(command);
      ctx.print(await ctx.client.getTransaction(id), formatTransaction);
    });

  const action = (name: 'abort' | 'replay' | 'retry', description: string, reasonRequired: boolean) => {
    const sub = tx.command(`${name} <id>`).description(description);
    if (reasonRequired) sub.requiredOption('--reason <text>', 'why (recorded in the log)');
    else sub.option('--reason <text>', 'why (recorded in the log)');
    sub.action(async (id: string, opts: { reason?: string }, command: Command) => {
      const ctx = cliContext(command);
      const body = { reason: opts.reason };
      const view =
        name === 'abort'
          ? await ctx.client.abortTransaction(id, body)
          : name === 'replay'
            ? await ctx.client.replayTransaction(id, body)
            : await ctx.client.retryTransaction(id, body);
      ctx.print(view, (t) => `${t.id}: ${t.status}`);
    });
  };
  action('abort', 'abort a transaction that has not decided yet', false);
  action('replay', 're-drive a failed transaction with a fresh retry budget', true);
  action('retry', 'call the branches waiting out a backoff now', true);

  return tx;
}

interface ListOptions {
  status?: TransactionStatus[];
  participant?: string;
  attention?: Attention;
  limit?: number;
  cursor?: string;
}

function formatPage(page: TransactionPage): string {
  const table = formatTable(
    ['ID', 'PROTOCOL', 'STATUS', 'ATTENTION', 'PARTICIPANTS', 'CREATED', 'ERROR'],
    page.items.map((t) => [t.id, t.protocol, t.status, t.attention, t.participants.join(','), t.createdAt, t.error]),
  );
  return page.nextCursor ? `${table}\nmore: --cursor ${page.nextCursor}` : table;
}

/** `tx show`: the header, then the branches, then every attempt (with its error). */
export function formatTransaction(t: TransactionView): string {
  const header = formatFields([
    ['id', t.id],
    ['protocol', `${t.protocol} (${t.mode})`],
    ['status', t.status],
    ['attention', t.attention],
    ['decision', t.decision],
    ['created', `${t.createdAt} by ${t.createdBy ?? '?'}`],
    ['updated', t.updatedAt],
    ['deadline', t.deadline],
    ['error', t.error],
    [
      'first error',
      t.firstError && `${t.firstError.branchId}/${t.firstError.phase} #${t.firstError.attempt}: ${t.firstError.error}`,
    ],
  ]);
  const branches = formatTable(
    ['BRANCH', 'PARTICIPANT', 'STATUS', 'PHASE', 'ATTEMPT', 'NEXT ATTEMPT', 'LAST ERROR'],
    t.branches.map((b) => [
      b.id,
      b.participant,
      b.status,
      b.phase,
      b.attempt,
      b.retrying ? b.nextAttemptAt : null,
      b.lastError,
    ]),
  );
  const attempts = formatTable(
    ['BRANCH', 'PHASE', '#', 'OUTCOME', 'HTTP', 'STARTED', 'ERROR'],
    t.attempts.map((a) => [a.branchId, a.phase, a.attempt, a.outcome ?? 'pending', a.httpStatus, a.startedAt, a.error]),
  );
  return `${header}\n\nBranches\n${branches}\n\nAttempts\n${attempts}`;
}
