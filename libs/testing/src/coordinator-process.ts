import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

const MAIN = resolve(__dirname, '../../../dist/apps/coordinator/src/main.js');

export interface CoordinatorProcessOptions {
  databaseUrl: string;
  /** Empty to let the coordinator start its embedded Postgres. Omit `redisUrl` to run BullMQ on its Postgres backend. */
  redisUrl?: string;
  redisPrefix?: string;
  env?: Record<string, string>;
  /**
   * Start it as the leader of its own process group, as a shell starts `npm start`, so
   * {@link CoordinatorProcess.interrupt} reaches it and every process it started (an embedded Postgres).
   */
  ownProcessGroup?: boolean;
}

/**
 * The coordinator as a real child process (built output in dist/), on a free port. Tests kill it
 * with SIGKILL and start it again on the same database to test recovery.
 */
export class CoordinatorProcess {
  private child: ChildProcess | null = null;
  private output = '';
  url = '';
  exited: Promise<number | null> = Promise.resolve(null);

  constructor(private readonly options: CoordinatorProcessOptions) {}

  /** Another instance on the same database and queue (not started). */
  sibling(): CoordinatorProcess {
    return new CoordinatorProcess(this.options);
  }

  /** Fast timings so recovery happens within a test's patience. */
  static readonly FAST_ENV = { SWEEP_INTERVAL_MS: '200', INSTANCE_TTL_MS: '1500', CALL_TIMEOUT_MS: '2000' };

  async start(extraEnv: Record<string, string> = {}): Promise<string> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: '0',
      ...(this.options.databaseUrl ? { DATABASE_URL: this.options.databaseUrl } : {}),
      ...(this.options.redisUrl ? { REDIS_URL: this.options.redisUrl } : {}),
      ...(this.options.redisPrefix ? { REDIS_PREFIX: this.options.redisPrefix } : {}),
      ...CoordinatorProcess.FAST_ENV,
      ...this.options.env,
      ...extraEnv,
    };
    const child = spawn(process.execPath, [MAIN], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: this.options.ownProcessGroup === true,
    });
    this.child = child;
    this.output = '';
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
    let readiness: NodeJS.Timeout | undefined;
    const ready = new Promise<string>((resolvePromise, reject) => {
      const onData = (chunk: Buffer) => {
        this.output += chunk.toString();
        const m = /coordinator ready: API (http:\/\/[^/\s]+)\/v1/.exec(this.output);
        if (m) resolvePromise(m[1]);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`coordinator exited with ${code} before ready:\n${this.output}`)));
      // only while it starts: a timer left armed once ready killed every run longer than 30 s
      readiness = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`coordinator not ready after 30 s:\n${this.output}`));
      }, 30_000);
      readiness.unref();
    });
    try {
      this.url = await ready;
    } finally {
      clearTimeout(readiness);
    }
    return this.url;
  }

  /** Everything the process printed so far. */
  get log(): string {
    return this.output;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Whether it runs, or how it ended, and the end of its output: for a failing test's message. */
  state(tailChars = 4_000): string {
    const c = this.child;
    const how = !c
      ? 'not started'
      : c.exitCode !== null || c.signalCode
        ? `exited (code ${c.exitCode}, signal ${c.signalCode})`
        : `running (pid ${c.pid})`;
    return `coordinator ${how}; its last output:\n${this.output.slice(-tailChars)}`;
  }

  /** SIGKILL: no shutdown hooks, no release of owned transactions. */
  async kill(): Promise<void> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /**
   * Ctrl-C in a terminal: SIGINT to the whole process group (the coordinator and the processes it
   * started), then waits; resolves with the exit code. Needs `ownProcessGroup`.
   */
  async interrupt(): Promise<number | null> {
    if (!this.options.ownProcessGroup) throw new Error('interrupt() needs ownProcessGroup: true');
    if (!this.child || this.child.exitCode !== null || this.child.signalCode) return this.child?.exitCode ?? null;
    process.kill(-this.child.pid!, 'SIGINT');
    return this.exited;
  }

  /** SIGTERM and wait: a graceful stop. */
  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode) return;
    this.child.kill('SIGTERM');
    await this.exited;
  }
}
