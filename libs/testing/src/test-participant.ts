import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FORWARD_PHASES, type ParticipantCallBody, type Phase } from '#contracts';

const COMMIT_PHASES: readonly Phase[] = ['confirm', 'commit', 'do-commit'];

export interface ReceivedCall {
  path: string;
  body: ParticipantCallBody;
  headers: IncomingHttpHeaders;
  receivedAt: number;
  answeredAt: number | null;
  status: number | null;
}

/**
 * A fault rule: the next `times` calls matching `branchId`/`phase` answer `status`; `when: 'before'`
 * (default) answers without the effect, `'after'` applies the effect and then answers (a lost
 * reply). `delayMs` holds the answer back (a slow or hung participant).
 */
export interface FaultRule {
  branchId?: string;
  phase?: Phase;
  transactionId?: string;
  status: number;
  times: number;
  when?: 'before' | 'after';
  delayMs?: number;
}

/**
 * A participant over real HTTP with a fault switch, for e2e and chaos tests. It keeps the SDK
 * barrier's semantics in memory (an action applies once; a compensation applies once and only after
 * its action; a compensation seen first refuses a late action) and counts every effect, so a test can
 * check "applied exactly once" while the coordinator is killed around it.
 */
export class TestParticipant {
  readonly calls: ReceivedCall[] = [];
  private rules: FaultRule[] = [];
  private readonly applied = new Map<string, number>();
  private readonly compensated = new Map<string, number>();
  private readonly undone = new Set<string>();
  private readonly committed = new Map<string, number>();
  private readonly inFlight = new Map<string, number>();
  /** The most calls for one (transaction, branch, phase) that were ever in flight at once. */
  maxConcurrentSamePhase = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<TestParticipant> {
    let participant!: TestParticipant;
    const server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        void participant.handle(req.url ?? '/', raw, req.headers).then(({ status, body }) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        });
      });
    });
    participant = new TestParticipant(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return participant;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  fault(rule: FaultRule): this {
    this.rules.push({ ...rule });
    return this;
  }

  clearFaults(): void {
    this.rules = [];
  }

  callsFor(transactionId: string, phase?: Phase): ReceivedCall[] {
    return this.calls.filter((c) => c.body.transactionId === transactionId && (!phase || c.body.phase === phase));
  }

  /** Effective (barrier-filtered) effects of a branch: 0 or 1 each, unless something is badly wrong. */
  effects(transactionId: string, branchId: string): { applied: number; compensated: number } {
    const key = `${transactionId}/${branchId}`;
    return { applied: this.applied.get(key) ?? 0, compensated: this.compensated.get(key) ?? 0 };
  }

  /**
   * Effects of a branch under any protocol: its forward phase applied, its commit-type completion
   * (confirm, commit, do-commit) applied, its undo (compensate, cancel, rollback, abort) applied.
   * Each is 0 or 1 when phases are deduplicated as the barrier does.
   */
  outcome(transactionId: string, branchId: string): { applied: number; committed: number; undone: number } {
    const key = `${transactionId}/${branchId}`;
    return {
      applied: this.applied.get(key) ?? 0,
      committed: this.committed.get(key) ?? 0,
      undone: this.compensated.get(key) ?? 0,
    };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(
    path: string,
    raw: string,
    headers: IncomingHttpHeaders,
  ): Promise<{ status: number; body: unknown }> {
    const body = JSON.parse(raw) as ParticipantCallBody;
    const call: ReceivedCall = { path, body, headers, receivedAt: Date.now(), answeredAt: null, status: null };
    this.calls.push(call);
    const phaseKey = `${body.transactionId}/${body.branchId}/${body.phase}`;
    const concurrent = (this.inFlight.get(phaseKey) ?? 0) + 1;
    this.inFlight.set(phaseKey, concurrent);
    this.maxConcurrentSamePhase = Math.max(this.maxConcurrentSamePhase, concurrent);
    try {
      const answer = await this.answer(body);
      call.status = answer.status;
      return answer;
    } finally {
      call.answeredAt = Date.now();
      this.inFlight.set(phaseKey, (this.inFlight.get(phaseKey) ?? 1) - 1);
    }
  }

  private async answer(body: ParticipantCallBody): Promise<{ status: number; body: unknown }> {
    const rule = this.rules.find(
      (r) =>
        r.times > 0 &&
        (!r.branchId || r.branchId === body.branchId) &&
        (!r.phase || r.phase === body.phase) &&
        (!r.transactionId || r.transactionId === body.transactionId),
    );
    if (rule) rule.times--;
    if (rule?.delayMs) await new Promise((r) => setTimeout(r, rule.delayMs));
    if (rule && rule.when !== 'after') return { status: rule.status, body: { fault: true } };
    const key = `${body.transactionId}/${body.branchId}`;
    let status = 200;
    if (FORWARD_PHASES.includes(body.phase)) {
      if (this.undone.has(key))
        status = 409; // the undo got here first: refuse the late forward phase
      else if (!this.applied.has(key)) this.applied.set(key, 1);
    } else if (COMMIT_PHASES.includes(body.phase)) {
      if (!this.committed.has(key)) this.committed.set(key, 1);
    } else {
      this.undone.add(key);
      if (this.applied.has(key) && !this.compensated.has(key)) this.compensated.set(key, 1);
    }
    if (rule) return { status: rule.status, body: { fault: true, after: true } };
    return { status, body: { ok: status === 200, branch: body.branchId, phase: body.phase } };
  }
}
