/**
 * What the read-path indexes cost the write path: `node dist/bench/index-cost.js`.
 *
 * On a fresh database (all migrations, then INDEX_COST_SEED transactions from bench/read-seed.ts so
 * the indexes are not empty), writes saga-shaped transactions straight through the store
 * (PgTransactionStore.apply: group-committed `txc_apply` batches, like the engine: a create, then
 * two advances to `committed`), INDEX_COST_TXNS per round at INDEX_COST_CONCURRENCY, alternately
 * without and with the indexes of migration 1764900000000 (ABBA, after a CHECKPOINT each). Reports
 * per round and per variant (median): transactions/s and WAL bytes per transaction (pg_stat_wal).
 * No HTTP, no participant: only the log's cost, where an index shows.
 */
import { Client, Pool } from 'pg';
import { DataSource } from 'typeorm';
import { TEST_PG_ADMIN_URL } from '../libs/testing/src/fresh-database';
import { dataSourceOptions } from '../libs/store/src/data-source-options';
import { PgTransactionStore } from '../libs/store/src/transaction-store.pg';
import type { BranchRecord, StoreOp } from '../libs/store/src/transaction-store';
import { uuidV7 } from '../apps/coordinator/src/engine/uuid-v7';
import { assertLoopback, median, envNumber } from './lib';
import { seedReadLog } from './read-seed';
import { adminQuery } from './stack';

const num = envNumber;
const CONFIG = {
  seed: num('INDEX_COST_SEED', 200_000, 0, 2_000_000),
  txns: num('INDEX_COST_TXNS', 20_000, 100, 1_000_000),
  rounds: num('INDEX_COST_ROUNDS', 4, 2, 20),
  concurrency: num('INDEX_COST_CONCURRENCY', 64, 1, 512),
};
assertLoopback(TEST_PG_ADMIN_URL);

const INDEXES = {
  create: [
    `CREATE INDEX IF NOT EXISTS txc_transactions_id_prefix ON txc_transactions (id text_pattern_ops)`,
    `CREATE INDEX IF NOT EXISTS txc_branches_retrying ON txc_branches (transaction_id) WHERE retry_at IS NOT NULL`,
  ],
  drop: [`DROP INDEX IF EXISTS txc_transactions_id_prefix`, `DROP INDEX IF EXISTS txc_branches_retrying`],
};
const DB_NAME = `txc_bench_idx_${process.pid}`;
const DB_URL = (() => {
  const u = new URL(TEST_PG_ADMIN_URL);
  u.pathname = `/${DB_NAME}`;
  return u.toString();
})();
const BUDGET_MS = (120 + CONFIG.seed / 5_000 + CONFIG.rounds * (30 + CONFIG.txns / 200)) * 1000;
let created = false;

async function main(): Promise<void> {
  const hardStop = setTimeout(() => {
    log(`time budget (${Math.round(BUDGET_MS / 1000)} s) exceeded; stopping`);
    void cleanup().finally(() => process.exit(1));
  }, BUDGET_MS);
  hardStop.unref();
  await adminQuery(`CREATE DATABASE ${DB_NAME}`);
  created = true;
  const source = new DataSource(dataSourceOptions(DB_URL, 1));
  await source.initialize();
  await source.runMigrations();
  await source.destroy();
  const db = new Client({ connectionString: DB_URL });
  await db.connect();
  const pool = new Pool({ connectionString: DB_URL, max: 10 });
  try {
    if (CONFIG.seed) {
      log(`seeding ${CONFIG.seed} transactions...`);
      await seedReadLog(db, { total: CONFIG.seed, chunk: 100_000, days: 30 });
      await db.query('VACUUM (ANALYZE) txc_transactions, txc_branches, txc_events');
    }
    const store = new PgTransactionStore(pool);
    const rounds: { variant: 'without' | 'with'; txPerSecond: number; walBytesPerTxn: number }[] = [];
    for (let r = 0; r < CONFIG.rounds; r++) {
      // ABBA: without, with, with, without, ...
      const variant = [0, 3].includes(r % 4) ? 'without' : 'with';
      for (const sql of INDEXES[variant === 'with' ? 'create' : 'drop']) await db.query(sql);
      await db.query('CHECKPOINT');
      const wal0 = await walBytes(db);
      const t0 = performance.now();
      await writeSagas(store, CONFIG.txns, CONFIG.concurrency);
      const seconds = (performance.now() - t0) / 1000;
      const wal = (await walBytes(db)) - wal0;
      rounds.push({ variant, txPerSecond: CONFIG.txns / seconds, walBytesPerTxn: wal / CONFIG.txns });
      log(
        `round ${r + 1} ${variant.padEnd(7)} the indexes: ${(CONFIG.txns / seconds).toFixed(0)} tx/s, ${(wal / CONFIG.txns).toFixed(0)} WAL bytes/tx`,
      );
    }
    const summary = (v: 'without' | 'with') => {
      const rs = rounds.filter((x) => x.variant === v);
      return {
        txPerSecond: median(rs.map((x) => x.txPerSecond)),
        walBytesPerTxn: median(rs.map((x) => x.walBytesPerTxn)),
      };
    };
    const a = summary('without');
    const b = summary('with');
    process.stdout.write(
      `\n| indexes of 1764900000000 | tx/s (median) | WAL bytes per transaction (median) |\n|---|---:|---:|\n` +
        `| without | ${a.txPerSecond.toFixed(0)} | ${a.walBytesPerTxn.toFixed(0)} |\n` +
        `| with | ${b.txPerSecond.toFixed(0)} | ${b.walBytesPerTxn.toFixed(0)} |\n` +
        `\n${CONFIG.txns} saga transactions per round (create + 2 advances), concurrency ${CONFIG.concurrency}, ` +
        `${CONFIG.rounds} rounds ABBA, on a log of ${CONFIG.seed} seeded transactions; ` +
        `with/without: ${(b.txPerSecond / a.txPerSecond).toFixed(3)}x throughput, ` +
        `${(b.walBytesPerTxn / a.walBytesPerTxn).toFixed(3)}x WAL\n`,
    );
  } finally {
    await pool.end().catch(() => undefined);
    await db.end().catch(() => undefined);
  }
  await cleanup();
  clearTimeout(hardStop);
}

async function walBytes(db: Client): Promise<number> {
  const { rows } = await db.query<{ b: string }>(`SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn AS b`);
  return Number(rows[0].b);
}

/** `n` sagas, `concurrency` at a time, each a create and two advances as the engine writes them. */
async function writeSagas(store: PgTransactionStore, n: number, concurrency: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      for (const op of sagaOps()) {
        const r = await store.apply(op);
        if (r !== 'ok') throw new Error(`txc_apply answered ${r}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

function sagaOps(): StoreOp[] {
  const now = new Date();
  const id = uuidV7(now.getTime());
  const owner = 'bench-index-cost';
  const deadline = new Date(now.getTime() + 60_000);
  const branch = (bid: string, position: number, status: BranchRecord['status']): BranchRecord => ({
    id: bid,
    position,
    participant: 'accounts',
    dependsOn: [],
    paths: {},
    skippedPhases: [],
    payload: { account: bid === 'debit' ? 'A' : 'B', delta: bid === 'debit' ? -1 : 1 },
    status,
    phase: 'action',
    attempt: status === 'running' ? 1 : 0,
    budgetBase: 0,
    inFlight: status === 'running',
    retryAt: null,
    result: null,
  });
  const ev = (seq: number, type: string, branchId: string | null, outcome: 'yes' | null = null) => ({
    seq,
    at: now,
    type,
    branchId,
    phase: branchId ? ('action' as const) : null,
    attempt: branchId ? 1 : null,
    outcome,
    detail: outcome ? { httpStatus: 200, durationMs: 3 } : null,
  });
  const change = (bid: string, status: BranchRecord['status'], inFlight: boolean) => ({
    id: bid,
    status,
    phase: 'action' as const,
    attempt: 1,
    budgetBase: 0,
    inFlight,
    retryAt: null,
  });
  return [
    {
      op: 'create',
      txn: {
        id,
        protocol: 'saga',
        mode: 'driven',
        status: 'running',
        decision: null,
        timeoutMs: 60_000,
        deadline,
        retry: { maxAttempts: 8, initialBackoffMs: 200, maxBackoffMs: 30_000 },
        requestHash: 'bench',
        participants: ['accounts'],
        error: null,
        owner,
        wakeAt: deadline,
        createdAt: now,
      },
      branches: [branch('debit', 0, 'running'), branch('credit', 1, 'pending')],
      events: [ev(1, 'transaction.created', null), ev(2, 'transaction.running', null), ev(3, 'call.started', 'debit')],
    },
    {
      op: 'advance',
      id,
      version: 1,
      txn: { status: 'running', decision: null, error: null, owner, wakeAt: deadline },
      branches: [change('debit', 'succeeded', false), change('credit', 'running', true)],
      events: [ev(4, 'call.finished', 'debit', 'yes'), ev(5, 'call.started', 'credit')],
    },
    {
      op: 'advance',
      id,
      version: 2,
      txn: { status: 'committed', decision: 'commit', error: null, owner: null, wakeAt: null },
      branches: [change('credit', 'succeeded', false)],
      events: [ev(6, 'call.finished', 'credit', 'yes'), ev(7, 'transaction.committed', null)],
      announce: { protocol: 'saga' },
    },
  ];
}

async function cleanup(): Promise<void> {
  if (created)
    await adminQuery(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`).catch((e) => log(`could not drop: ${e}`));
  created = false;
}

function log(line: string): void {
  process.stderr.write(`[index-cost] ${line}\n`);
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => void cleanup().finally(() => process.exit(130)));
}

void main().catch(async (e) => {
  log(`failed: ${e instanceof Error ? e.stack : String(e)}`);
  await cleanup();
  process.exit(1);
});
