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
  /** The faulty answer's JSON body (default `{fault: true}`), e.g. a problem+json with the participant's reason. */
  body?: unknown;
}

/** Undo phase → the forward phase it undoes: the SDK barrier's `UNDO_ORIGIN` (libs/participant). */
const UNDO_ORIGIN: Readonly<Partial<Record<Phase, Phase>>> = {
  compensate: 'action',
  cancel: 'try',
  rollback: 'prepare',
  abort: 'can-commit',
};
/** The forward phases that take the branch's effect (3PC's pre-commit is the second step of can-commit's). */
const ORIGIN_PHASES: readonly Phase[] = Object.values(UNDO_ORIGIN);
const UNDO_PHASES = Object.keys(UNDO_ORIGIN) as Phase[];
/** A definite no from the participant's business logic: remembered in the barrier, answered again to repeats. */
const REJECTION_STATUSES: readonly number[] = [409, 422];

/**
 * What a barrier row of (transaction, branch, phase) says: the phase ran (`applied`), was refused
 * by the business logic (`rejected`), or its slot was taken by the undo phase `undo` that arrived
 * first (`fenced`).
 */
type BarrierRow = 'applied' | 'rejected' | 'fenced';

/**
 * A participant over real HTTP with a fault switch, for e2e and chaos tests.
 *
 * It keeps the SDK barrier's semantics in memory, one row per (transaction, branch, phase): a
 * repeat of a phase is a no-op that answers as the first delivery did; an undo phase that arrives
 * before its forward phase is a null undo and fences that forward phase off (answered 409); a
 * forward phase that said no (a fault rule with status 409/422, `when: 'before'`) is remembered,
 * so a later delivery of it answers 409 and applies nothing, and its undo is a null undo.
 *
 * It counts every effect it actually performs, not what should have happened: a coordinator that
 * makes it apply a forward effect under two keys, commit after an undo or undo after a commit shows
 * a 2, or both counters, so "applied exactly once" can fail.
 */
export class TestParticipant {
  readonly calls: ReceivedCall[] = [];
  private rules: FaultRule[] = [];
  /** Barrier rows by `transaction/branch/phase` (shared by the instances of one participant). */
  private readonly rows: Map<string, BarrierRow>;
  /** Effects performed, by `transaction/branch/phase` (shared like the rows). */
  private readonly performed: Map<string, number>;
  private readonly inFlight = new Map<string, number>();
  /** What a message's check answers, by transaction (default `pending`). */
  private readonly checkStates = new Map<string, string>();
  /** The most calls for one (transaction, branch, phase) that were ever in flight at once. */
  maxConcurrentSamePhase = 0;
  /** Calls being handled by this instance now, and the most there ever were at once. */
  concurrent = 0;
  maxConcurrent = 0;
  /** Every answer is held back this long (a participant that takes its time). */
  latencyMs = 0;

  private constructor(
    private readonly server: Server,
    sharedWith?: TestParticipant,
  ) {
    this.rows = sharedWith?.rows ?? new Map();
    this.performed = sharedWith?.performed ?? new Map();
  }

  /**
   * Starts a participant on its own port. With `sharedWith`, it is another instance of the same
   * participant: they keep one barrier (as instances sharing a database do), so effects are counted
   * across them; calls, faults and concurrency stay per instance.
   */
  static async start(options: { sharedWith?: TestParticipant } = {}): Promise<TestParticipant> {
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
    participant = new TestParticipant(server, options.sharedWith);
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

  /** Makes the check of message `transactionId` answer 200 `{"state": state}` (as a sender's outbox would). */
  answerCheck(transactionId: string, state: 'committed' | 'rolledback' | 'pending'): this {
    this.checkStates.set(transactionId, state);
    return this;
  }

  clearFaults(): void {
    this.rules = [];
  }

  callsFor(transactionId: string, phase?: Phase): ReceivedCall[] {
    return this.calls.filter((c) => c.body.transactionId === transactionId && (!phase || c.body.phase === phase));
  }

  /**
   * Saga effects of a branch: how many times its action and its compensation took effect. Each is
   * 0 or 1 unless the coordinator made the participant apply under two keys.
   */
  effects(transactionId: string, branchId: string): { applied: number; compensated: number } {
    const { applied, undone } = this.outcome(transactionId, branchId);
    return { applied, compensated: undone };
  }

  /**
   * Effects of a branch under any protocol, raw: its forward effect (action, try, prepare,
   * can-commit), its commit-type completion (confirm, commit, do-commit), its undo (compensate,
   * cancel, rollback, abort). Each sums the effects under every phase of its kind.
   */
  outcome(transactionId: string, branchId: string): { applied: number; committed: number; undone: number } {
    const count = (phases: readonly Phase[]) =>
      phases.reduce((n, p) => n + (this.performed.get(`${transactionId}/${branchId}/${p}`) ?? 0), 0);
    return { applied: count(ORIGIN_PHASES), committed: count(COMMIT_PHASES), undone: count(UNDO_PHASES) };
  }

  /** Raw effects of a branch per phase (3PC's pre-commit included), only the phases that took effect. */
  effectsByPhase(transactionId: string, branchId: string): Partial<Record<Phase, number>> {
    const prefix = `${transactionId}/${branchId}/`;
    const out: Partial<Record<Phase, number>> = {};
    for (const [key, n] of this.performed) if (key.startsWith(prefix)) out[key.slice(prefix.length) as Phase] = n;
    return out;
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
    this.concurrent += 1;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    try {
      if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
      const answer = await this.answer(body);
      call.status = answer.status;
      return answer;
    } finally {
      call.answeredAt = Date.now();
      this.concurrent -= 1;
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
    // unref'd: a held answer must not keep the test process alive after the test
    if (rule?.delayMs) await new Promise((r) => setTimeout(r, rule.delayMs).unref());
    if (body.phase === 'check') {
      // a sender's check: a fault rule fails or delays it, otherwise it answers what the test set
      if (rule && rule.when !== 'after') return { status: rule.status, body: { fault: true } };
      return { status: 200, body: { state: this.checkStates.get(body.transactionId) ?? 'pending' } };
    }
    const ok = (status: number) => ({
      status,
      body: { ok: status === 200, branch: body.branchId, phase: body.phase },
    });
    const branchKey = `${body.transactionId}/${body.branchId}`;
    const rowKey = `${branchKey}/${body.phase}`;
    const row = this.rows.get(rowKey);
    const before = rule !== undefined && rule.when !== 'after';
    const rejects = before && REJECTION_STATUSES.includes(rule.status) && FORWARD_PHASES.includes(body.phase);
    // a failure before the barrier (or a no to a completion phase, which rolls its row back): nothing written
    if (before && !rejects) return { status: rule.status, body: rule.body ?? { fault: true } };
    // from here on the barrier decides, as libs/participant does, inside one local transaction
    if (row === 'rejected' || row === 'fenced') return ok(409);
    if (row === 'applied')
      return rule && !before ? { status: rule.status, body: { fault: true, after: true } } : ok(200);
    if (rejects) {
      // the business logic said no: the refusal is kept, so a late delivery of this phase cannot apply
      // (a message's consumer excepted: nothing undoes a message, so its no is retried on replay)
      if (body.protocol !== 'msg') this.rows.set(rowKey, 'rejected');
      return { status: rule.status, body: rule.body ?? { fault: true } };
    }
    const origin = UNDO_ORIGIN[body.phase];
    const originRow = origin ? this.rows.get(`${branchKey}/${origin}`) : undefined;
    if (origin && originRow === undefined) this.rows.set(`${branchKey}/${origin}`, 'fenced');
    // 3PC's abort also fences a pre-commit not yet delivered (the barrier's ALSO_FENCES)
    if (body.phase === 'abort' && !this.rows.has(`${branchKey}/pre-commit`)) {
      this.rows.set(`${branchKey}/pre-commit`, 'fenced');
    }
    this.rows.set(rowKey, 'applied');
    // an undo whose forward phase never ran, or was refused, is a null undo: nothing to undo
    const performs = !origin || originRow === 'applied';
    if (performs) this.performed.set(rowKey, (this.performed.get(rowKey) ?? 0) + 1);
    if (rule) return { status: rule.status, body: { fault: true, after: true } };
    return ok(200);
  }
}
