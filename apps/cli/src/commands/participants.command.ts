import { Command } from 'commander';
import type { ParticipantView } from '#client';
import { cliContext } from '../cli-context';
import { formatTable } from '../table';

/** `txc participants list`. */
export function participantsCommand(): Command {
  const participants = new Command('participants').description('the registered participants');
  participants
    .command('list')
    .description('every registered participant with its health')
    .action(async (_opts: unknown, command: Command) => {
      const ctx = cliContext(command);
      // --json prints the API's answer as it is: `{items}`
      ctx.print({ items: await ctx.client.listParticipants() }, (page) => formatParticipants(page.items));
    });
  return participants;
}

function formatParticipants(items: ParticipantView[]): string {
  const percent = (rate: number | null) => (rate === null ? null : `${Math.round(rate * 100)}%`);
  return formatTable(
    ['NAME', 'STATUS', 'TRANSPORT', 'URL', 'IN FLIGHT', 'FAILED', 'ERROR RATE', 'LAST SEEN', 'LAST ERROR'],
    items.map((p) => [
      p.name,
      p.status,
      p.transport,
      p.url,
      p.inFlightTransactions,
      p.failedTransactions,
      percent(p.errorRate),
      p.lastSeenAt,
      p.lastError,
    ]),
  );
}
