import { Command, Option } from 'commander';
import type { StatsView, StatsWindow } from '#client';
import { cliContext } from '../cli-context';
import { formatFields, formatTable } from '../table';

const WINDOWS: StatsWindow[] = ['15m', '1h', '6h', '24h'];

/** `txc stats`: the overview the dashboard draws, as text. */
export function statsCommand(): Command {
  return new Command('stats')
    .description('the overview of a time window')
    .addOption(new Option('--window <window>', 'the window').choices(WINDOWS).default('1h'))
    .action(async (opts: { window: StatsWindow }, command: Command) => {
      const ctx = cliContext(command);
      ctx.print(await ctx.client.stats(opts.window), formatStats);
    });
}

function formatStats(s: StatsView): string {
  const sum = (key: 'started' | 'committed' | 'aborted' | 'failed') => s.series.reduce((n, b) => n + b[key], 0);
  const header = formatFields([
    ['window', `${s.window} (${s.from} .. ${s.to})`],
    ['started', sum('started')],
    ['committed', sum('committed')],
    ['aborted', sum('aborted')],
    ['failed', sum('failed')],
    ['duration p50', s.duration.p50Ms === null ? null : `${s.duration.p50Ms} ms`],
    ['duration p99', s.duration.p99Ms === null ? null : `${s.duration.p99Ms} ms`],
    ...Object.entries(s.attention).map(([kind, n]) => [`attention ${kind}`, n] as const),
  ]);
  const inFlight = formatTable(
    ['PROTOCOL', 'STATUS', 'COUNT'],
    s.inFlight.map((r) => [r.protocol, r.status, r.count]),
  );
  const errors = formatTable(
    ['PARTICIPANT', 'PHASE', 'TRANSACTIONS', 'EXAMPLE', 'ERROR'],
    s.topErrors.map((e) => [e.participant, e.phase, e.transactions, e.example, e.error]),
  );
  return `${header}\n\nIn flight\n${inFlight}\n\nTop errors\n${errors}`;
}
