/**
 * Summarises V8 .cpuprofile files (from `BENCH_PROFILE=1 npm run bench`, written to
 * bench/out/profile/): self time by package/area and the top functions.
 * `node dist/bench/profile-summary.js bench/out/profile/CPU.*.cpuprofile [--top 25]`
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function area(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native/builtin)';
  if (url.startsWith('node:')) return url.replace(/^node:internal\/([^/]+).*/, 'node:$1');
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const app = /\/dist\/((?:apps|libs)\/[^/]+)/.exec(url);
  if (app) return app[1];
  return url;
}

function main(): void {
  const args = process.argv.slice(2);
  const topAt = args.indexOf('--top');
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 25;
  const files = args.filter((a, i) => a !== '--top' && i !== topAt + 1);
  if (!files.length) throw new Error('usage: profile-summary.js FILE.cpuprofile... [--top N]');
  const byArea = new Map<string, number>();
  const byFn = new Map<string, number>();
  let total = 0;
  for (const file of files) {
    const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const nodes = new Map(p.nodes.map((n) => [n.id, n]));
    p.samples.forEach((id, i) => {
      const dt = (p.timeDeltas[i + 1] ?? 0) / 1000; // ms until the next sample
      const n = nodes.get(id)!;
      const { functionName, url, lineNumber } = n.callFrame;
      const a = area(url, functionName);
      byArea.set(a, (byArea.get(a) ?? 0) + dt);
      const key = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${lineNumber + 1}` : ''}`;
      byFn.set(key, (byFn.get(key) ?? 0) + dt);
      total += dt;
    });
  }
  const busy = total - (byArea.get('(idle)') ?? 0);
  const pct = (ms: number) => `${((100 * ms) / busy).toFixed(1)}%`;
  const out: string[] = [
    `profiled ${(total / 1000).toFixed(1)} s, of which not idle ${(busy / 1000).toFixed(1)} s`,
    '',
  ];
  out.push('| area (self time) | ms | % of busy |', '|---|---:|---:|');
  for (const [a, ms] of [...byArea]
    .filter(([a]) => a !== '(idle)')
    .sort((x, y) => y[1] - x[1])
    .slice(0, top)) {
    out.push(`| ${a} | ${ms.toFixed(0)} | ${pct(ms)} |`);
  }
  out.push('', '| function (self time) | ms | % of busy |', '|---|---:|---:|');
  for (const [f, ms] of [...byFn]
    .filter(([f]) => !f.startsWith('(idle)'))
    .sort((x, y) => y[1] - x[1])
    .slice(0, top)) {
    out.push(`| ${f.replace(/\|/g, '\\|')} | ${ms.toFixed(0)} | ${pct(ms)} |`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

main();
