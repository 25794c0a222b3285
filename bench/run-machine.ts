/** The machine around the bench's runs: its facts, whether it is quiet, and CPU and syscalls per process group. */
import { execFileSync } from 'node:child_process';
import { allProcessCpu, machineCpu, sleep, topCpuBetween } from './lib';
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
