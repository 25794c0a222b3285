import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';

/** The saga every target runs: a debit then a credit on the accounts participant. */
export function sagaBody(participant = 'accounts', protocol = 'saga'): Record<string, unknown> {
  return {
    protocol,
    branches: [
      { id: 'debit', participant, payload: { account: 'A', delta: -1 } },
      { id: 'credit', participant, payload: { account: 'B', delta: 1 } },
    ],
  };
}

/** Only loopback traffic: refuses any URL whose host is not 127.0.0.1 / localhost / ::1. */
export function assertLoopback(url: string): string {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') {
    throw new Error(`bench talks to loopback only; refusing ${url}`);
  }
  return url;
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Total CPU seconds (user + system) a process has used, or null when it is gone. */
export function processCpuSeconds(pid: number): number | null {
  const t = processCpuTimes(pid);
  return t && t.user + t.sys;
}

/**
 * A process's CPU seconds (user, system) and when it started (clock ticks after boot, which tells
 * a reused pid from the process that had it before), or null when it is gone.
 */
export function processStat(pid: number): { user: number; sys: number; startTicks: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the "(comm)" part; utime, stime and starttime are fields 14, 15 and 22 (1-based)
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(rest[11]) / CLOCK_TICKS, sys: Number(rest[12]) / CLOCK_TICKS, startTicks: Number(rest[19]) };
  } catch {
    return null;
  }
}

/** Clock ticks since boot now, on the scale of {@link processStat}'s `startTicks`. */
export function ticksSinceBoot(): number {
  return Math.floor(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * CLOCK_TICKS);
}

/** User and system (kernel) CPU seconds of a process, or null when it is gone. */
export function processCpuTimes(pid: number): { user: number; sys: number } | null {
  const t = processStat(pid);
  return t && { user: t.user, sys: t.sys };
}
const CLOCK_TICKS = 100;

/** CPU seconds of every process on the machine, by pid (a snapshot of /proc). */
export function allProcessCpu(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const t = processCpuTimes(Number(name));
    if (t) out.set(Number(name), t.user + t.sys);
  }
  return out;
}

/** The processes that used the most CPU between two snapshots, with their command lines. */
export function topCpuBetween(a: Map<number, number>, b: Map<number, number>, seconds: number, n = 4): string[] {
  return [...b]
    .map(([pid, cpu]) => ({ pid, share: (cpu - (a.get(pid) ?? 0)) / seconds }))
    .filter((p) => p.share >= 0.05)
    .sort((x, y) => y.share - x.share)
    .slice(0, n)
    .map(({ pid, share }) => {
      let cmd = '?';
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim().slice(0, 100);
      } catch {
        /* gone */
      }
      return `${pid} ${(share * 100).toFixed(0)}% ${cmd}`;
    });
}

/** Read-type and write-type syscalls a process has made (/proc/PID/io syscr, syscw), or null when gone. */
export function processSyscalls(pid: number | 'self'): { reads: number; writes: number } | null {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    return { reads: Number(/syscr:\s*(\d+)/.exec(io)![1]), writes: Number(/syscw:\s*(\d+)/.exec(io)![1]) };
  } catch {
    return null;
  }
} // sysconf(_SC_CLK_TCK) is 100 on Linux x86-64

/**
 * Samples machine CPU for 1 s; while it is over 25% busy with the bench's servers idle (someone
 * else's work, or Postgres autovacuum after the previous run), waits, at most `tries` times, and
 * logs the busiest processes once. Returns the last busy fraction seen.
 */
export async function waitForQuiet(log: (line: string) => void, tries: number): Promise<number> {
  let busy = 1;
  for (let i = 0; i < tries; i++) {
    const a = machineCpu();
    const pa = allProcessCpu();
    await sleep(1_000);
    const b = machineCpu();
    busy = (b.busy - a.busy) / Math.max(1e-9, b.total - a.total);
    if (busy <= 0.25) return busy;
    if (i === 0) {
      log(`machine ${(busy * 100).toFixed(0)}% busy before the run; waiting up to ${tries} s. Busiest:`);
      // one line each: a command line can hold a script (node -e) with newlines
      for (const line of topCpuBetween(pa, allProcessCpu(), 1)) log(`  ${line.replace(/\s+/g, ' ')}`);
    }
  }
  log(`WARNING: still ${(busy * 100).toFixed(0)}% busy; measuring anyway`);
  return busy;
}

/** Machine-wide CPU counters from /proc/stat: busy and total jiffies over all cores. */
export function machineCpu(): { busy: number; total: number; steal: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] ?? 0);
  const total = f.slice(0, 8).reduce((a, b) => a + (b || 0), 0);
  return { busy: (total - idle) / CLOCK_TICKS, total: total / CLOCK_TICKS, steal: (f[7] ?? 0) / CLOCK_TICKS };
}

export interface Child {
  name: string;
  proc: ChildProcess;
  /** The regex match of the ready line. */
  ready: RegExpExecArray;
  /** Everything the process printed (the last 64 KiB). */
  output(): string;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();

/** Kills every child still running (sync; for exit handlers). */
export function killAllChildrenSync(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null && c.pid) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

/**
 * Spawns `node args...` and waits (bounded by `timeoutMs`) for a line matching `ready` on
 * stdout/stderr or, when given, for `probe` to return a match (polled every 200 ms).
 */
export async function spawnNode(
  name: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 30_000,
  probe?: () => Promise<RegExpExecArray | null>,
): Promise<Child> {
  const proc = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  const exited = new Promise<void>((r) => proc.once('exit', () => (children.delete(proc), r())));
  let out = '';
  const append = (chunk: Buffer) => {
    out += chunk.toString();
    if (out.length > 65_536) out = out.slice(-65_536);
  };
  proc.stdout!.on('data', append);
  proc.stderr!.on('data', append);
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  };
  try {
    const match = await new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const m = ready.exec(out);
        if (m) resolve(m);
      };
      proc.stdout!.on('data', check);
      proc.stderr!.on('data', check);
      if (probe) {
        const poll = async () => {
          const m = await probe().catch(() => null);
          if (m) resolve(m);
          else if (proc.exitCode === null && proc.signalCode === null) setTimeout(poll, 200).unref();
        };
        setTimeout(poll, 200).unref();
      }
      proc.once('exit', (code, signal) =>
        reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${out.slice(-4000)}`)),
      );
      setTimeout(
        () => reject(new Error(`${name} not ready after ${timeoutMs} ms:\n${out.slice(-4000)}`)),
        timeoutMs,
      ).unref();
    });
    return { name, proc, ready: match, output: () => out, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Runs a node script to completion (bounded), returning its stdout. */
export async function runNode(
  name: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
  onSpawn?: (pid: number) => void,
): Promise<string> {
  const proc = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  if (proc.pid && onSpawn) onSpawn(proc.pid);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
    if (err.length > 65_536) err = err.slice(-65_536);
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  children.delete(proc);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${name} failed (exit ${code}):\n${err.slice(-4000)}\n${out.slice(-2000)}`);
  return out;
}

/** The machine's monotonic clock in ms (CLOCK_MONOTONIC: comparable between processes on one machine). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}

/** A number from the environment variable `name` (`def` when unset or empty), refused outside [min, max]. */
export function envNumber(name: string, def: number, min: number, max: number): number {
  const raw = process.env[name];
  const v = raw === undefined || raw === '' ? def : Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) throw new Error(`${name} must be a number from ${min} to ${max}`);
  return v;
}

/** `x` with `digits` decimals, or `n/a` when it is not a finite number. */
export function fixed(x: number | null | undefined, digits = 1): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
