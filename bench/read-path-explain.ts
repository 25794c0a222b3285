/** The read-path bench's query plans: EXPLAIN (ANALYZE, BUFFERS) of the SQL behind the slow reads. */
import { Pool } from 'pg';
import { readStats } from '../libs/store/src/stats-queries';
import type { ListFilter } from '../libs/store/src/transaction-store';
import { PgTransactionStore } from '../libs/store/src/transaction-store.pg';
import type { ReadCase } from './read-path-cases';
import { CONFIG, DB_URL, log } from './read-path-config';
import type { SummaryRow } from './read-path-report';

/**
 * EXPLAIN (ANALYZE, BUFFERS) of the statements behind each read over the target (or all of them):
 * the store's own code runs against a pool that executes every statement for real and records its
 * plan beside it, so the plans are those of the SQL the coordinator sends. Once `isCleaning()`, a
 * connection error is the database being dropped, and goes unlogged.
 */
export async function explainSlow(
  cases: ReadCase[],
  summary: SummaryRow[],
  isCleaning: () => boolean,
): Promise<string> {
  if (CONFIG.explain === '0') return '';
  const slow = cases.filter((c) => CONFIG.explain === '1' || summary.find((s) => s.key === c.key)?.overTarget);
  if (!slow.length) return '';
  const pool = new Pool({ connectionString: DB_URL, max: 2 });
  pool.on('error', (e) => isCleaning() || log(`explain connection: ${e.message}`));
  const out: string[] = [];
  const recording = {
    query: async (sql: string, params?: unknown[]) => {
      const plan = await pool.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
      out.push(
        `-- ${sql.replace(/\s+/g, ' ').trim().slice(0, 300)}\n${plan.rows.map((r) => r['QUERY PLAN']).join('\n')}\n`,
      );
      return pool.query(sql, params);
    },
  } as unknown as Pool;
  try {
    const store = new PgTransactionStore(recording);
    for (const c of slow) {
      out.push(`\n===== ${c.key}: ${c.label}\n`);
      const path = c.paths[0];
      if (c.kind === 'list') await store.list(filterOf(path));
      else if (c.kind === 'get') {
        const id = decodeURIComponent(path.split('/').pop()!);
        await store.load(id);
        await store.events(id);
      } else if (c.kind === 'participants') await store.countsByParticipant();
      else if (c.kind === 'dry-run') {
        const { participant } = c.body as { participant: string };
        await store.failedIds({ participant }, 1001);
      } else {
        const window = new URL(path, 'http://x').searchParams.get('window')!;
        const { from, bucketSeconds } = statsWindow(window);
        await readStats(recording, from, bucketSeconds);
      }
    }
  } finally {
    await pool.end();
  }
  return out.join('\n');
}

/** The store filter the API builds from a list query (TransactionsService.list: one more row than the page). */
function filterOf(path: string): ListFilter {
  const q = new URL(path, 'http://x').searchParams;
  const cursor = q.get('cursor');
  const after = cursor ? (JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string]) : null;
  const date = (k: string) => (q.get(k) ? new Date(q.get(k)!) : undefined);
  return {
    statuses: q.get('status')?.split(',').filter(Boolean),
    protocol: q.get('protocol') ?? undefined,
    participant: q.get('participant') ?? undefined,
    attention: (q.get('attention') ?? undefined) as ListFilter['attention'],
    from: date('from'),
    to: date('to'),
    q: q.get('q') ?? undefined,
    limit: Number(q.get('limit') ?? 50) + 1,
    after: after ? { createdAt: new Date(after[0]), id: after[1] } : undefined,
  };
}

/** StatsService's window: whole buckets, the last one holding now. */
function statsWindow(window: string): { from: Date; bucketSeconds: number } {
  const w = { '15m': [15 * 60, 60], '1h': [3600, 60], '6h': [6 * 3600, 300], '24h': [24 * 3600, 900] }[window];
  if (!w) throw new Error(`unknown window ${window}`);
  const bucketMs = w[1] * 1000;
  const from = new Date(Math.floor((Date.now() - w[0] * 1000) / bucketMs) * bucketMs + bucketMs);
  return { from, bucketSeconds: w[1] };
}
