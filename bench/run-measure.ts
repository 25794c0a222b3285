/** One measured run of the bench: a closed loop against one target, with the accounting around it. */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import type { Client } from 'pg';
import type { LoadResult } from './load';
import { allProcessCpu, fixed, machineCpu, runNode, sagaBody, waitForQuiet } from './lib';
import {
  CONFIG,
  OTHERS_MAX,
  PER_RUN_BUDGET_S,
  QUIET_TRIES,
  businessNo,
  log,
  protocolOf,
  type RunRecord,
  type Target,
} from './run-config';
import { GroupUsageSampler } from './group-usage';
import { backendPids, sharedPostgresPids } from './stack';

/** What the runs go against: the started processes and their databases. */
export interface RunSetting {
  admin: Client;
  endpoints: Record<Target, string>;
  serverPid: Record<Target, number>;
  dbOf: Record<Target, string>;
  participant: { pid: number; db: string };
  ourDatabases: string[];
}

/**
 * One closed-loop run against `target`, with CPU, syscall and machine accounting around it; a run
 * during which other processes used more than OTHERS_MAX cores comes back `contaminated`.
 */
export async function measureRun(
  setting: RunSetting,
  target: Target,
  concurrency: number,
  run: number,
): Promise<RunRecord> {
  const { admin, endpoints, serverPid, dbOf } = setting;
  const loadavgBefore = loadavg()[0];
  const idleBusy = await waitForQuiet(log, QUIET_TRIES);
  const groups = async (): Promise<Record<string, number[]>> => ({
    [target]: [serverPid[target]],
    participant: [setting.participant.pid],
    [`postgres:${target}`]: await backendPids(admin, dbOf[target]),
    'postgres:participant': await backendPids(admin, setting.participant.db),
    'postgres:shared': await sharedPostgresPids(admin),
  });
  const ours = async (driverPid: number) => {
    const pids = new Set([process.pid, driverPid, ...Object.values(serverPid), setting.participant.pid]);
    // one admin connection: its queries go one after the other
    for (const db of setting.ourDatabases) for (const pid of await backendPids(admin, db)) pids.add(pid);
    for (const pid of await sharedPostgresPids(admin)) pids.add(pid);
    return pids;
  };
  const sampler = await GroupUsageSampler.start(groups);
  const m0 = machineCpu();
  const all0 = allProcessCpu();
  const t0 = performance.now();
  let driverPid = 0;
  const out = await runNode(
    'load',
    [
      resolve(__dirname, 'load.js'),
      JSON.stringify({
        url: endpoints[target],
        body: sagaBody('accounts', protocolOf(target)),
        concurrency,
        rate: CONFIG.rate,
        warmupSeconds: CONFIG.warmupSeconds,
        seconds: CONFIG.seconds,
        expectStatus: 'committed',
        ...(target === 'saga-no10' ? { alternate: businessNo() } : {}),
        ...(target === 'saga-keyed' || (target === 'before' && CONFIG.beforeKeyed)
          ? { freshIdempotencyKeys: true }
          : {}),
      }),
    ],
    {},
    PER_RUN_BUDGET_S * 1000,
    (pid) => (driverPid = pid),
  );
  const wall = (performance.now() - t0) / 1000;
  const all1 = allProcessCpu();
  const m1 = machineCpu();
  const used = await sampler.stop();
  const mine = await ours(driverPid);
  let others = 0;
  for (const [pid, c] of all1) if (!mine.has(pid)) others += c - (all0.get(pid) ?? 0);
  const result = JSON.parse(out.trim().split('\n').pop()!) as LoadResult;
  // NaN (no successful request) travels as null in JSON
  for (const k of ['p50', 'p90', 'p99', 'max', 'mean'] as const) result[k] ??= NaN;
  const cpu: Record<string, number> = { driver: result.cpuSeconds, ...used.cpu };
  const syscalls: Record<string, { reads: number; writes: number }> = { ...used.io };
  if (result.syscalls) syscalls.driver = result.syscalls;
  const busy = (m1.busy - m0.busy) / Math.max(1e-9, m1.total - m0.total);
  const steal = (m1.steal - m0.steal) / Math.max(1e-9, m1.total - m0.total);
  const otherCores = others / wall;
  log(
    `${target.padEnd(11)} c=${String(concurrency).padStart(3)} run ${run}: ${fixed(result.rps, 0)} sagas/s, ` +
      `p50 ${fixed(result.p50, 1)} ms, p99 ${fixed(result.p99, 1)} ms, errors ${result.errors}` +
      (CONFIG.rate ? `, late ${result.late}` : '') +
      (result.errorSamples.length ? ` (${result.errorSamples[0]})` : '') +
      `, machine CPU ${(busy * 100).toFixed(0)}% (steal ${(steal * 100).toFixed(0)}%, others ${otherCores.toFixed(2)} cores)`,
  );
  return {
    target,
    concurrency,
    run,
    result,
    cpu,
    syscalls,
    machineBusyFraction: busy,
    stealFraction: steal,
    otherCores,
    contaminated: otherCores > OTHERS_MAX,
    loadavgBefore,
    busyBeforeFraction: idleBusy,
  };
}
