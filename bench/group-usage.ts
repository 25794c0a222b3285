/** CPU and syscalls of the bench's process groups over a run, process by process. */
import { processStat, processSyscalls, ticksSinceBoot } from './lib';

/** What each group used over a run: CPU seconds (`name`, and the kernel part `name:sys`) and syscalls. */
export interface GroupUsage {
  cpu: Record<string, number>;
  io: Record<string, { reads: number; writes: number }>;
}

interface ProcessReading {
  user: number;
  sys: number;
  reads: number;
  writes: number;
}
const NOTHING: ProcessReading = { user: 0, sys: 0, reads: 0, writes: 0 };

/**
 * CPU and syscalls per process group over a run, read from /proc at the start, every `everyMs`
 * during the run and at the end. A process that ends during the run counts up to its last reading
 * (a pooled connection that closed while idle had used nothing since), one born during the run
 * counts from zero, and a pid that a new process took over counts as a new process (each process
 * is known by its pid and start time). A process alive for less than `everyMs` between two
 * readings is missed.
 */
export class GroupUsageSampler {
  private readonly first = new Map<string, ProcessReading>();
  private readonly last = new Map<string, ProcessReading>();
  private readonly groupOf = new Map<string, string>();
  private readonly names = new Set<string>();
  private readonly startedAt = ticksSinceBoot();
  private reading: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  private constructor(private readonly groups: () => Promise<Record<string, number[]>>) {}

  /** Reads every group's processes now, then every `everyMs` until {@link stop}. */
  static async start(groups: () => Promise<Record<string, number[]>>, everyMs = 1_000): Promise<GroupUsageSampler> {
    const sampler = new GroupUsageSampler(groups);
    await sampler.read();
    // one reading at a time: `groups` may query over a connection that runs one query at a time
    sampler.timer = setInterval(() => {
      sampler.reading = sampler.reading.then(() => sampler.read()).catch(() => undefined);
    }, everyMs);
    return sampler;
  }

  /** Every pid seen in a group so far. */
  pids(): Set<number> {
    return new Set([...this.groupOf.keys()].map((key) => Number(key.split('@')[0])));
  }

  /** Takes the last reading and returns what each group used since the first. */
  async stop(): Promise<GroupUsage> {
    clearInterval(this.timer);
    await this.reading;
    await this.read();
    const cpu: Record<string, number> = {};
    const io: Record<string, { reads: number; writes: number }> = {};
    for (const name of this.names) {
      cpu[name] = 0;
      cpu[`${name}:sys`] = 0;
      io[name] = { reads: 0, writes: 0 };
    }
    for (const [key, last] of this.last) {
      const first = this.first.get(key)!;
      const name = this.groupOf.get(key)!;
      cpu[name] += last.user + last.sys - first.user - first.sys;
      cpu[`${name}:sys`] += last.sys - first.sys;
      io[name].reads += last.reads - first.reads;
      io[name].writes += last.writes - first.writes;
    }
    return { cpu, io };
  }

  private async read(): Promise<void> {
    for (const [name, pids] of Object.entries(await this.groups())) {
      this.names.add(name);
      for (const pid of pids) {
        const stat = processStat(pid);
        if (!stat) continue;
        const key = `${pid}@${stat.startTicks}`;
        const calls = processSyscalls(pid) ?? this.last.get(key) ?? NOTHING;
        const now = { user: stat.user, sys: stat.sys, reads: calls.reads, writes: calls.writes };
        // seen for the first time: from zero if it was born during the run, else from now
        if (!this.first.has(key)) this.first.set(key, stat.startTicks >= this.startedAt ? NOTHING : now);
        this.last.set(key, now);
        this.groupOf.set(key, name);
      }
    }
  }
}
