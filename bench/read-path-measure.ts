/** The read-path bench's measuring: a cold first call of each read, then closed-loop runs on a quiet machine. */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { TEST_PG_ADMIN_URL } from '../libs/testing/src/fresh-database';
import { allProcessCpu, fixed, runNode, waitForQuiet } from './lib';
import type { ReadLoadConfig, ReadLoadResult } from './read-load';
import { getJson, type ReadCase } from './read-path-cases';
import { CONFIG, DB_NAME, OUT, PER_RUN_BUDGET_S, log } from './read-path-config';

/** A run during which other people's processes used more CPU than this (cores) is repeated. */
const OTHERS_MAX = 0.25;
const REPEATS_PER_SLOT = 2;
const QUIET_TRIES = 30;

/** One measured run of one read; a `disturbed` one is repeated (up to REPEATS_PER_SLOT times) and left out. */
export interface RunRecord {
  key: string;
  run: number;
  result: ReadLoadResult;
  otherCores: number;
  disturbed: boolean;
}

/** One GET of each path shape before measuring: the read works and returns what it should. */
export async function smoke(api: string, c: ReadCase): Promise<number> {
  const t0 = performance.now();
  const body = await getJson(api, c.paths[0], c.body);
  try {
    c.check?.(body);
  } catch (e) {
    throw new Error(`${c.key} (${c.paths[0]}): ${e instanceof Error ? e.message : e}`);
  }
  const what = Array.isArray(body.items) ? `${body.items.length} items` : 'ok';
  const ms = performance.now() - t0;
  log(`smoke ${c.key}: ${what} in ${ms.toFixed(1)} ms (cold)`);
  return ms;
}

/** BENCH_RUNS rounds over every case (round-robin, so slow drift spreads over all of them). */
export async function measureAll(api: string, cases: ReadCase[], coordinatorPid: number): Promise<RunRecord[]> {
  const records: RunRecord[] = [];
  for (let run = 1; run <= CONFIG.runs; run++) {
    for (const c of cases) {
      for (let attempt = 0; ; attempt++) {
        const record = await measure(api, c, run, coordinatorPid);
        records.push(record);
        if (!record.disturbed) break;
        if (attempt >= REPEATS_PER_SLOT) {
          log(`  still disturbed after ${REPEATS_PER_SLOT} repeats; keeping it (flagged)`);
          record.disturbed = false;
          (record as RunRecord & { disturbedButKept?: boolean }).disturbedButKept = true;
          break;
        }
        log(`  others used ${record.otherCores.toFixed(2)} cores during that run; repeating it`);
      }
    }
  }
  return records;
}

/** One closed-loop run of one case, with the CPU other people's processes used meanwhile. */
async function measure(api: string, c: ReadCase, run: number, coordinatorPid: number): Promise<RunRecord> {
  await waitForQuiet(log, QUIET_TRIES);
  const cfgPath = resolve(OUT, `read-load-${process.pid}.json`);
  const cfg: ReadLoadConfig = {
    origin: api,
    paths: c.paths,
    order: c.order,
    body: c.body,
    concurrency: CONFIG.concurrency,
    warmupSeconds: CONFIG.warmupSeconds,
    seconds: CONFIG.seconds,
  };
  writeFileSync(cfgPath, JSON.stringify(cfg));
  const all0 = allProcessCpu();
  const t0 = performance.now();
  let driverPid = 0;
  const out = await runNode(
    'read-load',
    [resolve(__dirname, 'read-load.js'), cfgPath],
    {},
    PER_RUN_BUDGET_S * 1000,
    (pid) => {
      driverPid = pid;
    },
  );
  const wall = (performance.now() - t0) / 1000;
  const all1 = allProcessCpu();
  const mine = await ourPids(driverPid, coordinatorPid);
  let others = 0;
  for (const [pid, cpu] of all1) if (!mine.has(pid)) others += cpu - (all0.get(pid) ?? 0);
  const result = JSON.parse(out.trim().split('\n').pop()!) as ReadLoadResult;
  for (const k of ['p50', 'p90', 'p99', 'max', 'mean', 'meanBytes'] as const) result[k] ??= NaN;
  const otherCores = others / wall;
  log(
    `${c.key.padEnd(16)} run ${run}: ${fixed(result.rps, 0)} req/s, p50 ${fixed(result.p50, 1)} ms, p99 ${fixed(result.p99, 1)} ms, ` +
      `errors ${result.errors}${result.errorSamples.length ? ` (${result.errorSamples[0]})` : ''}, others ${otherCores.toFixed(2)} cores`,
  );
  return { key: c.key, run, result, otherCores, disturbed: otherCores > OTHERS_MAX };
}

/** This process, the driver, the coordinator, the bench database's backends and Postgres's own processes. */
async function ourPids(driverPid: number, coordinatorPid: number): Promise<Set<number>> {
  const admin = new Client({ connectionString: TEST_PG_ADMIN_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = $1 OR (datname IS NULL AND backend_type <> 'client backend')`,
      [DB_NAME],
    );
    return new Set([process.pid, driverPid, coordinatorPid, ...rows.map((r) => r.pid)]);
  } finally {
    await admin.end();
  }
}
