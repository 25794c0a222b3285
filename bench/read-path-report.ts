/** The read-path bench's report: medians per read over the undisturbed runs, and the markdown table. */
import { fixed, median, round } from './lib';
import type { ReadCase } from './read-path-cases';
import { CONFIG } from './read-path-config';
import type { RunRecord } from './read-path-measure';

/** One read's line of the table: medians over its undisturbed runs. */
export interface SummaryRow {
  key: string;
  label: string;
  p50: number;
  p99: number;
  rps: number;
  errors: number;
  meanBytes: number;
  /** Median over runs of the slowest answer (a cached read's refresh shows here, not in p99). */
  max: number;
  /** The first call, alone, before any run. */
  firstCallMs: number;
  p99Runs: number[];
  disturbedKept: number;
  overTarget: boolean;
}

/** A row per case, in the cases' order; a read with no p99 counts as over the target. */
export function summarise(cases: ReadCase[], records: RunRecord[], firstCallMs: Record<string, number>): SummaryRow[] {
  return cases.map((c) => {
    const kept = records.filter((r) => r.key === c.key && !r.disturbed);
    const rs = kept.map((r) => r.result);
    const p99 = median(rs.map((r) => r.p99));
    return {
      key: c.key,
      label: c.label,
      p50: median(rs.map((r) => r.p50)),
      p99,
      rps: median(rs.map((r) => r.rps)),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      meanBytes: median(rs.map((r) => r.meanBytes)),
      max: median(rs.map((r) => r.max)),
      firstCallMs: firstCallMs[c.key] ?? NaN,
      p99Runs: rs.map((r) => round(r.p99, 1)),
      disturbedKept: kept.filter((r) => (r as { disturbedButKept?: boolean }).disturbedButKept).length,
      overTarget: !(p99 <= CONFIG.targetP99Ms),
    };
  });
}

/** The table printed on stdout, with a line on the settings and the runs left out above it. */
export function markdownTable(rows: SummaryRow[], records: RunRecord[]): string {
  const repeated = records.filter((r) => r.disturbed).length;
  const lines = [
    `${CONFIG.transactions.toLocaleString('en')} transactions; concurrency ${CONFIG.concurrency}; median of ${CONFIG.runs} run(s) of ` +
      `${CONFIG.seconds} s after ${CONFIG.warmupSeconds} s warm-up` +
      (repeated ? `; ${repeated} run(s) disturbed by other processes were repeated and left out.` : '.'),
    '',
    `| read | p50 ms | p99 ms | max ms | req/s | errors | body KiB | first call ms | p99 per run | p99 ≤ ${CONFIG.targetP99Ms} ms |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.label}${r.disturbedKept ? ` (${r.disturbedKept} disturbed run(s) kept)` : ''} | ${fixed(r.p50, 1)} | ${fixed(r.p99, 1)} | ${fixed(r.max, 0)} | ` +
        `${fixed(r.rps, 0)} | ${r.errors} | ${fixed(r.meanBytes / 1024, 1)} | ${fixed(r.firstCallMs, 1)} | ${r.p99Runs.map((x) => fixed(x, 1)).join(', ')} | ` +
        `${r.overTarget ? '**no**' : 'yes'} |`,
    );
  }
  return lines.join('\n');
}
