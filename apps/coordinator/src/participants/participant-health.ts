import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { PgParticipantRegistry } from '#store';
import { AlertDispatcher } from '../alerts/alert-dispatcher';
import type { Config } from '../config/config';
import { instanceKey, type CircuitChange } from '../engine/circuit-breakers';
import { Engine } from '../engine/engine.service';
import { CoordinatorMetrics } from '../metrics/coordinator-metrics';
import { CONFIG } from '../tokens';

/** The actor recorded on automatic replays, as an operator's name is on theirs. */
export const AUTO_REPLAY_ACTOR = 'auto-replay';
/** A transaction is replayed automatically at most this many times; after that an operator decides. */
const MAX_AUTO_REPLAYS = 3;

/**
 * What the coordinators do about participant health besides calling: publish circuit changes to
 * the registry, replay the failed transactions of `autoReplay` participants once they are healthy,
 * raise alerts (each once: the outbox key is unique), share the limits among the live coordinators,
 * and forget long-gone instances. Runs on every sweep of a driving instance.
 */
@Injectable()
export class ParticipantHealth implements OnModuleInit {
  private readonly logger = new Logger(ParticipantHealth.name);
  readonly alerts: AlertDispatcher | null;
  private ticks = 0;

  constructor(
    private readonly engine: Engine,
    private readonly registry: PgParticipantRegistry,
    private readonly metrics: CoordinatorMetrics,
    @Inject(CONFIG) private readonly config: Config,
  ) {
    this.alerts = config.ALERT_WEBHOOK_URL
      ? new AlertDispatcher(registry, metrics, {
          url: config.ALERT_WEBHOOK_URL,
          secret: config.ALERT_WEBHOOK_SECRET ?? null,
          retryMs: config.ALERT_RETRY_MS,
          pollMs: Math.min(500, config.SWEEP_INTERVAL_MS),
        })
      : null;
  }

  onModuleInit(): void {
    this.engine.onCircuitChange = (change) => void this.circuitChanged(change);
  }

  /** One round of the periodic work; never throws. */
  async tick(): Promise<void> {
    const steps: [string, () => Promise<void>][] = [
      ['peers', () => this.refreshPeers()],
      ['auto-replay', () => this.autoReplay()],
      ['alerts', () => this.findAlerts()],
    ];
    if (this.ticks++ % 30 === 0) steps.push(['prune', () => this.prune()]);
    for (const [what, step] of steps) {
      await step().catch((e) => this.logger.warn(`${what} failed: ${e}`));
    }
  }

  /**
   * Publishes a circuit change seen here. Only the coordinator whose write moved the stored state
   * from closed to open raises the "circuit opened" alert, so several coordinators opening theirs,
   * and the probes failing while it stays open, raise one.
   */
  private async circuitChanged(c: CircuitChange): Promise<void> {
    try {
      const before = await this.registry.publishCircuit(c.participant, c.instanceId, c.state);
      // a probe that fails re-opens a half-open circuit: that is the same outage, not a new alert
      if (before === 'closed' && c.state === 'open' && this.alerts) {
        await this.registry.raiseAlert(
          `participant.circuit-open:${c.participant}:${c.instanceId}:${c.at.getTime()}`,
          'participant.circuit-open',
          { participant: c.participant, instanceId: c.instanceId, at: c.at.toISOString() },
        );
      }
    } catch (error) {
      this.logger.warn(`publishing circuit ${c.participant}/${c.instanceId} ${c.state}: ${error}`);
    }
  }

  /**
   * Forgets instances gone for an hour (expired or left), then what this coordinator keeps about
   * instances no longer registered: their breakers, recent calls and metric series.
   */
  private async prune(): Promise<void> {
    await this.registry.pruneInstances();
    const registered = new Set(
      (await this.registry.instanceIds()).map((i) => instanceKey(i.participant, i.instanceId)),
    );
    for (const gone of this.engine.gateway.forgetInstancesExcept(registered)) {
      this.metrics.forgetInstance(gone.participant, gone.instanceId);
    }
  }

  /** {@link refreshPeers} alone, for an instance that drives no transaction (ROLE=api); never throws. */
  async shareLimits(): Promise<void> {
    await this.refreshPeers().catch((e) => this.logger.warn(`peers failed: ${e}`));
  }

  /** The limits are divided among the coordinators alive now (docs/failure-detection.md). */
  private async refreshPeers(): Promise<void> {
    const ids = await this.registry.liveCoordinators(this.config.INSTANCE_TTL_MS);
    const rank = ids.indexOf(this.engine.instanceId);
    this.engine.gateway.peers = rank < 0 ? { count: ids.length + 1, rank: ids.length } : { count: ids.length, rank };
  }

  /**
   * Replays, a batch per participant and sweep, the transactions of `autoReplay` participants that
   * failed before the participant became healthy again (a transaction that failed while it looked
   * healthy waits for its next recovery, or an operator). Paced by the participant's limits too.
   *
   * A participant whose circuit opened while its transactions failed gets no call once they are
   * parked, so no half-open probe would ever close its circuit and it would never be healthy again:
   * once its probe is due, one of its failed transactions is replayed, and its calls are the probe.
   */
  private async autoReplay(): Promise<void> {
    await this.registry.updateHealth();
    for (const participant of await this.registry.autoReplayReady()) {
      await this.replayFailedOf(
        participant,
        this.config.AUTO_REPLAY_BATCH,
        `participant ${participant} is healthy again`,
      );
    }
    for (const participant of await this.registry.autoReplayProbeDue(this.config.CIRCUIT_HALF_OPEN_MS)) {
      const reason = `participant ${participant}'s open circuit is probed with one of its failed transactions`;
      await this.replayFailedOf(participant, 1, reason, true);
    }
  }

  private async replayFailedOf(participant: string, limit: number, reason: string, probe = false): Promise<void> {
    const ids = await this.registry.autoReplayable(participant, AUTO_REPLAY_ACTOR, MAX_AUTO_REPLAYS, limit, probe);
    for (const id of ids) {
      const replayed = await this.engine.replay(id, { action: 'replay', actor: AUTO_REPLAY_ACTOR, reason });
      if (replayed) this.metrics.autoReplays.inc({ participant });
    }
  }

  /** Raises the alerts found in the log: failed transactions, undecided ones past their deadline, lapsed participants. */
  private async findAlerts(): Promise<void> {
    if (!this.alerts) return;
    for (const t of await this.registry.alertableTransactions(this.config.ALERT_OVERDUE_AFTER_MS)) {
      if (t.status === 'failed') {
        await this.registry.raiseAlert(`transaction.failed:${t.id}:${t.version}`, 'transaction.failed', {
          transactionId: t.id,
        });
      } else {
        await this.registry.raiseAlert(`transaction.overdue:${t.id}`, 'transaction.overdue', {
          transactionId: t.id,
          status: t.status,
        });
      }
    }
    for (const p of await this.registry.lapsedParticipants()) {
      await this.registry.raiseAlert(`participant.expired:${p.name}:${p.lapsedAt.getTime()}`, 'participant.expired', {
        participant: p.name,
        lapsedAt: p.lapsedAt.toISOString(),
      });
    }
  }
}
