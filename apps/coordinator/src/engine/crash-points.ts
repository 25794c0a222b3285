/**
 * Named points where the fault-injection tests kill the process (`CRASH_AT=after-call:2` dies at the
 * second pass of `after-call`). Off unless CRASH_AT is set; SIGKILL so nothing gets to clean up.
 */
export type CrashPoint = 'after-create' | 'after-call' | 'during-compensation' | 'after-decision';

export class CrashPoints {
  private readonly point: string | null;
  private remaining: number;

  constructor(spec: string | undefined) {
    const [point, n] = (spec ?? '').split(':');
    this.point = point || null;
    this.remaining = Number(n ?? 1) || 1;
  }

  reach(point: CrashPoint): void {
    if (point !== this.point) return;
    if (--this.remaining > 0) return;
    process.stderr.write(`CRASH_AT ${point}: killing the process\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
