import { Command, InvalidArgumentError, Option } from 'commander';
import {
  Attention,
  Protocol,
  TransactionStatus,
  type BulkReplayResult,
  type TransactionPage,
  type TransactionView,
} from '#client';
import { isoTimeWithZone } from '#contracts';
import { UsageError, cliContext } from '../cli-context';
import { formatFields, formatTable } from '../table';

/** `--limit`: a whole number from 1 up (the coordinator enforces its own ceiling). */
export function parseLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw new InvalidArgumentError('must be a whole number, 1 or more');
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
    .addOption(new Option('--protocol <protocol>', 'only this protocol').choices(Object.values(Protocol)))
    .option('--q <prefix>', 'only ids starting with this')
    .option('--from <time>', 'created at or after (ISO time with a zone)', parseTime)
    .option('--to <time>', 'created at or before (ISO time with a zone)', parseTime)
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
  action('retry', 'call the branches waiting out a backoff now', true);

  tx.command('replay [id]')
    .description('re-drive a failed transaction with a fresh retry budget; without <id>, every failed one matching')
    .requiredOption('--reason <text>', 'why (recorded in the log)')
    .option('--participant <name>', 'bulk: the failed transactions involving this participant')
    .option('--ids <ids>', 'bulk: these transactions (comma-separated)', (v: string) =>
      v.split(',').map((s) => s.trim()),
    )
    .option('--dry-run', 'bulk: list what would be replayed, replay nothing')
    .action(async (id: string | undefined, opts: ReplayOptions, command: Command) => {
      const ctx = cliContext(command);
      const bulk = opts.participant !== undefined || opts.ids !== undefined;
      if (id !== undefined && (bulk || opts.dryRun)) {
        throw new UsageError('give a transaction id, or --participant/--ids (with --dry-run) for a bulk replay');
      }
      if (id !== undefined) {
        const view = await ctx.client.replayTransaction(id, { reason: opts.reason });
        ctx.print(view, (t) => `${t.id}: ${t.status}`);
        return;
      }
      if (!bulk) throw new UsageError('give a transaction id, or --participant and/or --ids for a bulk replay');
      const result = await ctx.client.bulkReplay({
        participant: opts.participant,
        ids: opts.ids,
        reason: opts.reason,
        dryRun: opts.dryRun === true,
      });
      ctx.print(result, formatBulkReplay);
    });

  tx.command('watch')
    .description('print status changes as they happen (the live stream) until Ctrl-C')
    .option('--status <statuses>', 'only changes to these statuses (comma-separated)', parseStatuses)
    .addOption(new Option('--protocol <protocol>', 'only this protocol').choices(Object.values(Protocol)))
    .option('--count <n>', 'stop after n changes', parseLimit)
    .action(async (opts: WatchOptions, command: Command) => {
      const ctx = cliContext(command);
      // reached first, as every other command (3 tries): the stream itself reconnects for good
      await ctx.client.me();
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      let seen = 0;
      const onReset = () =>
        process.stderr.write(
          'txc: the coordinator could not replay every change since the last one seen: some may be missing\n',
        );
      for await (const change of ctx.client.stream({ signal: stop.signal, onReset })) {
        if (opts.status && !opts.status.includes(change.status)) continue;
        if (opts.protocol && change.protocol !== opts.protocol) continue;
        // one line per change: a JSON object with --json (JSON lines), else the fields in columns
        const { eventId: _eventId, ...fields } = change;
        process.stdout.write(
          ctx.json
            ? `${JSON.stringify(fields)}\n`
            : `${change.updatedAt}  ${change.protocol.padEnd(4)}  ${change.status.padEnd(10)}  ${change.id}\n`,
        );
        if (opts.count !== undefined && ++seen >= opts.count) break;
      }
    });

  return tx;
}

/** `--from`/`--to`: an ISO time with a zone, as the coordinator reads it. */
export function parseTime(value: string): string {
  // the coordinator's own rule, so that what passes here is never refused there
  if (!isoTimeWithZone.safeParse(value).success) {
    throw new InvalidArgumentError('must be an ISO time with a zone, e.g. 2026-11-29T18:00:00Z');
  }
  return value;
}

interface ReplayOptions {
  reason: string;
  participant?: string;
  ids?: string[];
  dryRun?: boolean;
}

interface WatchOptions {
  status?: TransactionStatus[];
  protocol?: Protocol;
  count?: number;
}

function formatBulkReplay(r: BulkReplayResult): string {
  const more = r.truncated ? '\nmore match than one request handles: run it again' : '';
  if (r.dryRun) {
    return `would replay ${r.matched} failed transaction(s)${r.ids?.length ? `:\n${r.ids.join('\n')}` : ''}${more}`;
  }
  const table = formatTable(
    ['ID', 'OUTCOME', 'DETAIL'],
    (r.results ?? []).map((x) => [x.id, x.outcome, x.detail]),
  );
  return `${table}${more}`;
}

interface ListOptions {
  status?: TransactionStatus[];
  protocol?: Protocol;
  q?: string;
  from?: string;
  to?: string;
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
