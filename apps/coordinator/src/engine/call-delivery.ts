import {
  CheckState,
  FORWARD_PHASES,
  Outcome,
  Phase,
  Protocol,
  findUnstorable,
  Transport,
  storableText,
} from '#contracts';
import type { CallCommand, MachineEvent } from '#protocol';
import type { BranchRecord } from '#store';
import { lineAbout } from '../logging/log-context';
import type { CallSpan, TransactionTrace } from '../tracing/transaction-trace';
import { reasonOf } from './call-reason';
import type { EngineContext } from './engine-context';
import type { CallRequest, CallResult } from './participant-caller';
import type { Delivery } from './participant-gateway';

/** What the calls of a transaction need from its driver. */
export interface CallingDriver {
  readonly id: string;
  readonly protocol: Protocol;
  /** The transaction's deadline (ms) as the driver holds it when asked. */
  deadline(): number;
  branch(id: string): BranchRecord | undefined;
  /** Queues an answer (or a deferral) as the driver's next event, with its note and the reply's body. */
  post(event: MachineEvent, note: Record<string, unknown> | null, result?: unknown): Promise<void>;
}

/**
 * Makes the participant calls a driver's durable state announces: builds each request when it goes
 * out, delivers it through the gateway, records it (metrics, stats, trace span), and posts the
 * answer back to the driver as an event. A call the gateway did not make is posted as a deferral,
 * its attempt not counted; a reply the log cannot hold is posted without its body.
 */
export class CallDelivery {
  constructor(
    private readonly ctx: Pick<EngineContext, 'gateway' | 'callTimeoutMs' | 'logger' | 'metrics' | 'stats' | 'crash'>,
    private readonly trace: TransactionTrace,
    private readonly driver: CallingDriver,
  ) {}

  /** Delivers call `c` and posts its answer; every line it logs carries the transaction and the branch. */
  async make(c: CallCommand): Promise<void> {
    const about = { txId: this.driver.id, branch: c.branchId };
    const branch = this.driver.branch(c.branchId)!;
    // a forward phase is bounded by the transaction's deadline. A message's calls are not: once
    // submitted it has no deadline, and a check in flight at the deadline is waited for, since its
    // answer still decides (docs/protocols/msg.md)
    const bounded = this.driver.protocol !== Protocol.Msg && FORWARD_PHASES.includes(c.phase);
    const path = branch.paths[c.phase] ?? `/${this.driver.protocol}/${c.phase}`;
    let span: CallSpan | null = null;
    let delivery: Delivery = await this.ctx.gateway
      .deliver(
        branch.participant,
        (participant, instance) => {
          span?.finish(null); // built again (another instance): the earlier request never went out
          span = this.trace.startCall({
            branch: c.branchId,
            participant: participant.name,
            phase: c.phase,
            attempt: c.attempt,
          });
          // the timeout is taken when the call goes out: time spent waiting for a limit is not the participant's
          const timeoutMs = bounded
            ? Math.max(100, Math.min(this.ctx.callTimeoutMs, this.driver.deadline() - Date.now()))
            : this.ctx.callTimeoutMs;
          const overHttp = instance.transport === Transport.Http;
          return {
            traceparent: span.traceparent,
            url: overHttp ? joinUrl(instance.url, path) : instance.url,
            transport: instance.transport as Transport,
            participant: participant.name,
            path,
            secret: participant.secret,
            timeoutMs,
            body: {
              transactionId: this.driver.id,
              // a message's check is asked of its sender, not of a branch: the envelope has no branchId
              ...(c.phase === Phase.Check ? {} : { branchId: c.branchId }),
              protocol: this.driver.protocol,
              phase: c.phase,
              attempt: c.attempt,
              deadline: new Date(bounded ? this.driver.deadline() : Date.now() + timeoutMs).toISOString(),
              payload: c.phase === Phase.Check ? null : branch.payload,
            } as CallRequest['body'],
          };
        },
        bounded ? this.driver.deadline() : undefined,
        // a 3PC participant takes its decision on its own timer just past the deadline: the
        // coordinator's own breaker and limits must not hold back the decision it could still deliver
        this.driver.protocol === Protocol.ThreePhase && (c.phase === Phase.Abort || c.phase === Phase.DoCommit),
      )
      .catch((error: unknown): Delivery => {
        // the registry could not be read: a wait, not a failed attempt
        this.ctx.logger.warn(lineAbout(about, `participant lookup failed: ${error}`), 'Engine');
        return { kind: 'deferred', reason: 'no-live-instance', retryAt: Date.now() + 1_000 };
      });
    // the call's span ends with whatever answer came back (a failed probe is an answer too)
    (span as CallSpan | null)?.finish(('result' in delivery && delivery.result) || null);
    // ended by this coordinator stopping: the log has it withdrawn (see TransactionDriver.withdrawAndStop),
    // and it is nobody's failure, in the figures or the log
    if (this.ctx.gateway.stopping) return;
    if (delivery.kind === 'deferred') {
      // a failed probe is forgiven only until the deadline: past it, the probes a broken participant
      // keeps failing use up the attempts, so a completion that can never succeed parks as `failed`
      // (visible, alerted, replayable) instead of waiting for good. Not when another instance was
      // live to take the call: the probe was the recovering instance's turn, not the call's fate
      const overdue =
        delivery.reason === 'probe-failed' &&
        delivery.result &&
        !delivery.othersLive &&
        Date.now() >= this.driver.deadline();
      if (!overdue) return this.defer(c, branch.participant, delivery);
      delivery = { kind: 'called', result: delivery.result!, instanceId: delivery.instanceId ?? 'unknown' };
    }
    let result: CallResult =
      delivery.kind === 'called'
        ? delivery.result
        : {
            outcome: Outcome.Unknown,
            httpStatus: null,
            result: null,
            error: `participant "${branch.participant}" is not registered`,
            durationMs: 0,
          };
    // the call's own figures count what the participant answered: a check's 200 `pending` is an answer
    this.recordCall(branch.participant, c.phase, result, delivery.kind === 'called' ? delivery.instanceId : null);
    if (c.phase === Phase.Check && delivery.kind === 'called') result = checkOutcome(result);
    const answer = `${c.phase} to ${branch.participant} (attempt ${c.attempt}): ${result.outcome}`;
    if (result.outcome === Outcome.Unknown)
      this.ctx.logger.warn(lineAbout(about, `${answer} (${result.error})`), 'Engine');
    else this.ctx.logger.debug?.(lineAbout(about, answer), 'Engine');
    this.ctx.crash.reach('after-call');
    const reason = reasonOf(result.httpStatus, result.result);
    if (reason) result = { ...result, error: reason };
    const unstorable = findUnstorable(result.result);
    if (unstorable) {
      // a reply the log cannot hold must not jam the transaction: the outcome counts, the body is dropped
      // (a no's own reason, or the status, is kept before why the body was dropped)
      const dropped = `reply not stored: ${unstorable.path} ${unstorable.rule}`;
      result = { ...result, result: null, error: result.error ? `${result.error}; ${dropped}` : dropped };
    }
    await this.driver.post(
      {
        type: 'outcome',
        branchId: c.branchId,
        phase: c.phase,
        attempt: c.attempt,
        outcome: result.outcome,
        random01: Math.random(),
      },
      {
        httpStatus: result.httpStatus,
        durationMs: result.durationMs,
        ...(result.error ? { error: storableText(result.error) } : {}),
      },
      result.result,
    );
  }

  /** One call made, in the participant's error rate and the call metrics. */
  private recordCall(participant: string, phase: Phase, result: CallResult, instanceId: string | null): void {
    this.ctx.metrics.calls.inc({ participant, phase, outcome: result.outcome });
    this.ctx.stats.record(participant, result.outcome, result.error, result.durationMs);
    if (instanceId !== null)
      this.ctx.metrics.instanceCalls.inc({ participant, instance: instanceId, outcome: result.outcome });
    this.ctx.metrics.callSeconds.observe({ phase }, result.durationMs / 1000);
  }

  /**
   * The gateway did not make the call (or made it as a failed circuit probe): the log records why and
   * when the branch is due again, and the attempt is not counted. The driver lets go if nothing else
   * is in flight, and the wake-up is scheduled like any retry's (durable: the sweeper finds it in Postgres).
   */
  private async defer(c: CallCommand, participant: string, d: Extract<Delivery, { kind: 'deferred' }>): Promise<void> {
    this.ctx.metrics.deferred.inc({ participant, reason: d.reason });
    // a failed half-open probe was a call: it counts in the participant's figures like any other
    if (d.result) this.recordCall(participant, c.phase, d.result, d.instanceId ?? 'unknown');
    const made = d.result
      ? {
          instanceId: d.instanceId,
          httpStatus: d.result.httpStatus,
          durationMs: d.result.durationMs,
          ...(d.result.error ? { error: storableText(d.result.error) } : {}),
        }
      : {};
    await this.driver.post(
      {
        type: 'deferred',
        branchId: c.branchId,
        phase: c.phase,
        attempt: c.attempt,
        retryAt: d.retryAt,
        delivered: d.result !== undefined,
      },
      { reason: d.reason, until: new Date(d.retryAt).toISOString(), ...made },
    );
  }
}

/**
 * A check's outcome is read from its answer, not its status: only a 2xx `{"state": "committed"}`
 * (yes: deliver) or `{"state": "rolledback"}` (no: abort) decides; `pending`, any other body or
 * status, or no answer is unknown, and the check is asked again.
 */
export function checkOutcome(result: CallResult): CallResult {
  if (result.outcome !== Outcome.Yes) return { ...result, outcome: Outcome.Unknown };
  const state = (result.result as { state?: unknown } | null)?.state;
  if (state === CheckState.Committed) return result;
  if (state === CheckState.RolledBack) return { ...result, outcome: Outcome.No };
  const said = typeof state === 'string' ? `"${state}"` : 'no state';
  return { ...result, outcome: Outcome.Unknown, error: result.error ?? `check answered ${said.slice(0, 80)}` };
}

function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
}
