import { Logger } from '@nestjs/common';
import type { AlertRecord, PgParticipantRegistry } from '#store';
import { sign } from '../engine/participant-caller.http';
import { lineAbout } from '../logging/log-context';
import type { CoordinatorMetrics } from '../metrics/coordinator-metrics';

export interface AlertDispatcherOptions {
  url: string;
  secret: string | null;
  /** First retry delay after a failed delivery; doubles per attempt, capped at five minutes. */
  retryMs: number;
  /** How often due alerts are looked for. */
  pollMs: number;
}

const MAX_RETRY_MS = 5 * 60_000;
/** A claimed alert is held this long: a coordinator that dies mid-delivery lets it come due again. */
const HOLD_MS = 30_000;
const TIMEOUT_MS = 10_000;

/**
 * Delivers the alert outbox to the webhook: `POST` of `{id, kind, ...payload}` as JSON, with
 * `Idempotency-Key: <id>` and, with a secret, `Txn-Signature` exactly as on participant calls. Any
 * 2xx marks the alert delivered; anything else (or no answer) is retried with exponential backoff,
 * without end. An alert is claimed by one coordinator at a time, so it is sent once unless a
 * delivery's answer is lost; a receiver that must never act twice deduplicates on the id.
 */
export class AlertDispatcher {
  private readonly logger = new Logger(AlertDispatcher.name);
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly registry: PgParticipantRegistry,
    private readonly metrics: CoordinatorMetrics,
    private readonly options: AlertDispatcherOptions,
  ) {}

  start(): void {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      this.timer = setTimeout(() => void this.deliverDue().finally(loop), this.options.pollMs);
      this.timer.unref();
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One pass over the alerts due now; concurrent callers share it. */
  deliverDue(): Promise<void> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<void> {
    try {
      const due = await this.registry.claimAlerts(20, HOLD_MS);
      await Promise.all(due.map((a) => this.deliver(a)));
    } catch (error) {
      this.logger.warn(`alert delivery pass failed: ${error}`);
    }
  }

  private async deliver(alert: AlertRecord): Promise<void> {
    const raw = JSON.stringify({ id: alert.id, kind: alert.kind, ...alert.payload });
    const headers: Record<string, string> = { 'content-type': 'application/json', 'idempotency-key': alert.id };
    if (this.options.secret) headers['txn-signature'] = sign(this.options.secret, raw);
    let error: string;
    try {
      const res = await fetch(this.options.url, {
        method: 'POST',
        headers,
        body: raw,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) {
        await this.registry.alertDelivered(alert.id);
        this.metrics.alerts.inc({ kind: alert.kind, result: 'delivered' });
        return;
      }
      error = `HTTP ${res.status}`;
    } catch (e) {
      error = (e as Error).message;
    }
    const retryInMs = Math.min(MAX_RETRY_MS, this.options.retryMs * 2 ** Math.min(alert.attempts, 20));
    this.metrics.alerts.inc({ kind: alert.kind, result: 'retried' });
    const line = `alert ${alert.id}: delivery failed (${error}); retrying in ${retryInMs} ms`;
    // an alert about a transaction is a line about it: it carries its txId like every other
    const { transactionId } = alert.payload;
    if (typeof transactionId === 'string') this.logger.warn(lineAbout({ txId: transactionId }, line));
    else this.logger.warn(line);
    await this.registry.alertFailed(alert.id, error, retryInMs).catch(() => undefined);
  }
}
