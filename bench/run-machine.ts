/** The machine around the bench's runs: its facts, whether it is quiet, and CPU and syscalls per process group. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { allProcessCpu, machineCpu, processCpuTimes, processSyscalls, round, sleep, topCpuBetween } from './lib';
import { QUIET_TRIES, ROOT, log } from './run-config';
import { gitFacts } from './stack';

export function machineFacts() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  let top = '';
  try {
    top = execFileSync('ps', ['-eo', 'pid,pcpu,etime,comm', '--sort=-pcpu'], { encoding: 'utf8', timeout: 5_000 })
      .split('\n')
      .slice(0, 8)
      .join('\n');
  } catch {
    top = '(ps unavailable)';
  }
  const git = gitFacts(ROOT);
  return {
    git,
    nproc: availableParallelism(),
    cpuModel: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown',
    memGiB: round(totalmem() / 2 ** 30, 1),
    kernel: release(),
    node: process.version,
    loadavg: loadavg().map((x) => round(x, 2)),
    topProcesses: top,
  };
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

export function ioOf(groups: Record<string, number[]>): Record<string, { reads: number; writes: number }> {
  return Object.fromEntries(
    Object.entries(groups).map(([k, pids]) => [
      k,
      pids.reduce(
        (a, p) => {
          const io = processSyscalls(p);
          return io ? { reads: a.reads + io.reads, writes: a.writes + io.writes } : a;
        },
        { reads: 0, writes: 0 },
      ),
    ]),
  );
}

/** CPU seconds per group (`name`), and the kernel part of it (`name:sys`). */
export function cpuOf(groups: Record<string, number[]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, pids] of Object.entries(groups)) {
    const times = pids.map(processCpuTimes).filter((t) => t !== null);
    out[k] = times.reduce((a, t) => a + t.user + t.sys, 0);
    out[`${k}:sys`] = times.reduce((a, t) => a + t.sys, 0);
  }
  return out;
}
