import type { Socket } from 'node:net';

/** Which phase calls a rule applies to; an omitted field matches anything. */
interface CallMatch {
  phase?: string;
  branchId?: string;
  transactionId?: string;
}

/**
 * One fault rule: the next `times` phase calls matching `phase`/`branchId`/`transactionId` answer
 * `status`. `before`: without doing the work. `after`: the work commits first, then `status` is sent
 * (a lost reply). `delayMs` holds the reply back (to provoke coordinator timeouts).
 */
export interface FaultRule extends CallMatch {
  status: number;
  times: number;
  when: 'before' | 'after';
  delayMs?: number;
}

/**
 * A network partition between the coordinator and this service, for matching phase calls, until
 * `until` (epoch ms). A dropped call is never answered: the service holds it until the partition
 * ends (or the caller gives up), then destroys its connection. `before`: the work is not done (the
 * request is lost). `after`: the work commits, then the reply is lost. Timers keep running.
 */
export interface PartitionRule extends CallMatch {
  partition: true;
  when: 'before' | 'after';
  until: number;
}

/** The fault switch of one demo service (`POST /_faults`, `DELETE /_faults`). In memory only. */
export class FaultSwitch {
  private rules: FaultRule[] = [];
  private partitions: PartitionRule[] = [];
  private readonly holds = new Set<() => void>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Validates and queues a rule; returns an error message instead when the body is not a valid rule. */
  add(body: unknown): string | null {
    if (typeof body === 'object' && body !== null && (body as Record<string, unknown>).partition !== undefined) {
      const partition = parsePartition(body as Record<string, unknown>, this.now());
      if (typeof partition === 'string') return partition;
      this.partitions.push(partition);
      return null;
    }
    const rule = parseRule(body);
    if (typeof rule === 'string') return rule;
    this.rules.push(rule);
    return null;
  }

  /** Drops every rule and partition, and lets go of the calls held by a partition (their connections are destroyed). */
  clear(): void {
    this.rules = [];
    this.partitions = [];
    this.releaseHeld();
  }

  /** Lets go of every call a partition holds (service shutdown: the server can then close). */
  releaseHeld(): void {
    for (const release of [...this.holds]) release();
  }

  /** Consumes one use of the first rule matching this call, if any. */
  take(call: { phase: string; branchId: string; transactionId: string }): FaultRule | null {
    const rule = this.rules.find((r) => r.times > 0 && matches(r, call));
    if (!rule) return null;
    rule.times -= 1;
    this.rules = this.rules.filter((r) => r.times > 0);
    return { ...rule };
  }

  /** The first partition in force (added first wins) that cuts this call off, if any. */
  partitionFor(call: { phase: string; branchId: string; transactionId: string }): PartitionRule | null {
    const now = this.now();
    this.partitions = this.partitions.filter((p) => p.until > now);
    const rule = this.partitions.find((p) => matches(p, call));
    return rule ? { ...rule } : null;
  }

  /**
   * Holds a dropped call: resolves when the partition ends, when the caller closes the connection,
   * or on {@link clear} / {@link releaseHeld}.
   */
  hold(rule: PartitionRule, socket: Socket | null): Promise<void> {
    return new Promise((resolve) => {
      const release = () => {
        clearTimeout(timer);
        socket?.off('close', release);
        this.holds.delete(release);
        resolve();
      };
      const timer = setTimeout(release, Math.max(0, rule.until - this.now())).unref();
      this.holds.add(release);
      if (!socket || socket.destroyed) release();
      else socket.once('close', release);
    });
  }
}

function matches(rule: CallMatch, call: { phase: string; branchId: string; transactionId: string }): boolean {
  return (
    (rule.phase === undefined || rule.phase === call.phase) &&
    (rule.branchId === undefined || rule.branchId === call.branchId) &&
    (rule.transactionId === undefined || rule.transactionId === call.transactionId)
  );
}

function parseMatch(b: Record<string, unknown>): CallMatch | string {
  for (const key of ['phase', 'branchId', 'transactionId'] as const) {
    if (b[key] !== undefined && typeof b[key] !== 'string') return `${key} must be a string`;
  }
  return {
    phase: b.phase as string | undefined,
    branchId: b.branchId as string | undefined,
    transactionId: b.transactionId as string | undefined,
  };
}

function parsePartition(b: Record<string, unknown>, now: number): PartitionRule | string {
  if (b.partition !== true) return 'partition must be true';
  const untilMs = b.untilMs;
  const when = b.when ?? 'before';
  if (!Number.isInteger(untilMs) || (untilMs as number) < 1 || (untilMs as number) > 600_000)
    return 'untilMs must be an integer from 1 to 600000 (how long the partition lasts, from now)';
  if (when !== 'before' && when !== 'after') return "when must be 'before' or 'after'";
  for (const key of ['status', 'times', 'delayMs']) {
    if (b[key] !== undefined) return `${key} does not apply to a partition`;
  }
  const match = parseMatch(b);
  if (typeof match === 'string') return match;
  return { ...match, partition: true, when, until: now + (untilMs as number) };
}

function parseRule(body: unknown): FaultRule | string {
  if (typeof body !== 'object' || body === null) return 'body must be a JSON object';
  const b = body as Record<string, unknown>;
  const status = b.status;
  const times = b.times ?? 1;
  const when = b.when ?? 'before';
  const delayMs = b.delayMs;
  if (!Number.isInteger(status) || (status as number) < 100 || (status as number) > 599)
    return 'status must be an HTTP status code';
  if (!Number.isInteger(times) || (times as number) < 1) return 'times must be a positive integer';
  if (when !== 'before' && when !== 'after') return "when must be 'before' or 'after'";
  if (delayMs !== undefined && (!Number.isInteger(delayMs) || (delayMs as number) < 0 || (delayMs as number) > 600_000))
    return 'delayMs must be an integer from 0 to 600000';
  const match = parseMatch(b);
  if (typeof match === 'string') return match;
  return { ...match, status: status as number, times: times as number, when, delayMs: delayMs as number | undefined };
}
