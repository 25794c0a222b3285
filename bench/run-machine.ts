/** The machine around the bench's runs: its facts, whether it is quiet, and CPU and syscalls per process group. */
import { execFileSync } from 'node:child_process';
import { allProcessCpu, machineCpu, processCpuTimes, processSyscalls, sleep, topCpuBetween } from './lib';
import { QUIET_TRIES, ROOT, log } from './run-config';
import { hostFacts } from './stack';

export function machineFacts() {
  let top = '';
  try {
    top = execFileSync('ps', ['-eo', 'pid,pcpu,etime,comm', '--sort=-pcpu'], { encoding: 'utf8', timeout: 5_000 })
      .split('\n')
      .slice(0, 8)
      .join('\n');
  } catch {
    top = '(ps unavailable)';
  }
  return { ...hostFacts(ROOT), topProcesses: top };
}

/**
 * Samples machine CPU for 1 s; while it is over 25% busy with our servers idle (someone else's
 * work, or Postgres autovacuum after the previous run), waits, at most QUIET_TRIES times, and logs
 * the busiest processes. Returns the last busy fraction seen.
 */
export async function waitForQuiet(): Promise<number> {
  let busy = 1;
  for (let i = 0; i < QUIET_TRIES; i++) {
    const a = machineCpu();
    const pa = allProcessCpu();
    await sleep(1_000);
    const b = machineCpu();
    busy = (b.busy - a.busy) / Math.max(1e-9, b.total - a.total);
    if (busy <= 0.25) return busy;
    if (i === 0) {
      log(`machine ${(busy * 100).toFixed(0)}% busy before the run; waiting up to ${QUIET_TRIES} s. Busiest:`);
      for (const line of topCpuBetween(pa, allProcessCpu(), 1)) log(`  ${line}`);
    }
  }
  log(`WARNING: still ${(busy * 100).toFixed(0)}% busy; measuring anyway (flagged in latest.json)`);
  return busy;
}

/** Per-process counters (CPU seconds, syscalls) of every process in the groups, read now. */
export interface ProcessReadings {
  cpu: Map<number, { user: number; sys: number }>;
  io: Map<number, { reads: number; writes: number }>;
}

export function readProcesses(groups: Record<string, number[]>): ProcessReadings {
  const cpu = new Map<number, { user: number; sys: number }>();
  const io = new Map<number, { reads: number; writes: number }>();
  for (const pid of new Set(Object.values(groups).flat())) {
    const t = processCpuTimes(pid);
    if (t) cpu.set(pid, t);
    const s = processSyscalls(pid);
    if (s) io.set(pid, s);
  }
  return { cpu, io };
}

/**
 * What each group used between two readings: CPU seconds (`name`, and the kernel part `name:sys`)
 * and syscalls. Counted process by process: a process born in between counts from zero, and one
 * that ended in between (a pooled connection closed while idle) is left out rather than taking its
 * whole lifetime's CPU off the group's.
 */
export function usedBetween(
  groups: Record<string, number[]>,
  before: ProcessReadings,
  after: ProcessReadings,
): { cpu: Record<string, number>; io: Record<string, { reads: number; writes: number }> } {
  const cpu: Record<string, number> = {};
  const io: Record<string, { reads: number; writes: number }> = {};
  for (const [k, pids] of Object.entries(groups)) {
    cpu[k] = 0;
    cpu[`${k}:sys`] = 0;
    io[k] = { reads: 0, writes: 0 };
    for (const pid of pids) {
      const t1 = after.cpu.get(pid);
      const t0 = before.cpu.get(pid) ?? { user: 0, sys: 0 };
      if (t1) {
        cpu[k] += t1.user + t1.sys - t0.user - t0.sys;
        cpu[`${k}:sys`] += t1.sys - t0.sys;
      }
      const s1 = after.io.get(pid);
      const s0 = before.io.get(pid) ?? { reads: 0, writes: 0 };
      if (s1) {
        io[k].reads += s1.reads - s0.reads;
        io[k].writes += s1.writes - s0.writes;
      }
    }
  }
  return { cpu, io };
}
