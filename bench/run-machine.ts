/** The machine around the bench's runs: its facts (CPU per process group is in group-usage.ts, waiting for a quiet machine in lib.ts). */
import { execFileSync } from 'node:child_process';
import { ROOT } from './run-config';
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
