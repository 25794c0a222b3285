/**
 * One fault rule: the next `times` phase calls matching `phase`/`branchId`/`transactionId` answer
 * `status`. `before`: without doing the work. `after`: the work commits first, then `status` is sent
 * (a lost reply). `delayMs` holds the reply back (to provoke coordinator timeouts).
 */
export interface FaultRule {
  phase?: string;
  branchId?: string;
  transactionId?: string;
  status: number;
  times: number;
  when: 'before' | 'after';
  delayMs?: number;
}

/** The fault switch of one demo service (`POST /_faults`, `DELETE /_faults`). In memory only. */
export class FaultSwitch {
  private rules: FaultRule[] = [];

  /** Validates and queues a rule; returns an error message instead when the body is not a valid rule. */
  add(body: unknown): string | null {
    const rule = parseRule(body);
    if (typeof rule === 'string') return rule;
    this.rules.push(rule);
    return null;
  }

  clear(): void {
    this.rules = [];
  }

  /** Consumes one use of the first rule matching this call, if any. */
  take(call: { phase: string; branchId: string; transactionId: string }): FaultRule | null {
    const rule = this.rules.find(
      (r) =>
        r.times > 0 &&
        (r.phase === undefined || r.phase === call.phase) &&
        (r.branchId === undefined || r.branchId === call.branchId) &&
        (r.transactionId === undefined || r.transactionId === call.transactionId),
    );
    if (!rule) return null;
    rule.times -= 1;
    this.rules = this.rules.filter((r) => r.times > 0);
    return { ...rule };
  }
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
  for (const key of ['phase', 'branchId', 'transactionId'] as const) {
    if (b[key] !== undefined && typeof b[key] !== 'string') return `${key} must be a string`;
  }
  return {
    phase: b.phase as string | undefined,
    branchId: b.branchId as string | undefined,
    transactionId: b.transactionId as string | undefined,
    status: status as number,
    times: times as number,
    when,
    delayMs: delayMs as number | undefined,
  };
}
