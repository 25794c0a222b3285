import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type BeforeApplicationShutdown,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import type { DataSource } from 'typeorm';
import { Phase } from '#contracts';
import { Barrier, DEFAULT_BARRIER_TABLE } from '../barrier';
import type { HandlerRegistry } from '../handler-registry';
import { Outbox } from '../outbox';
import { ParticipantLease, processInstanceId } from '../participant-lease';
import { PhaseDispatcher } from '../phase-dispatcher';
import { ThreePhaseHandlers } from '../three-phase-handlers';
import { PhaseHandlerDiscovery } from './handler-discovery';
import { DEFAULT_TTL_SECONDS, PARTICIPANT_OPTIONS, type ParticipantModuleOptions } from './participant-options';

type BarrierRetention = NonNullable<ParticipantModuleOptions['barrierRetention']>;
import { phaseServer, type PhaseServer } from './phase-routes.broker';
import { mountPhaseRoutes } from './phase-routes.fastify';

/**
 * The participant's life in a Nest application. Module init: the DataSource is initialized if
 * needed, the barrier table created, the decorated handlers discovered, the 3PC timers of the
 * branches the last run left pending armed again, and the routes mounted (or, with a broker
 * transport, a Nest microservice server answering them over the broker, listening).
 * Bootstrap: registration with the coordinator and the heartbeat start. Shutdown: the 3PC timers
 * stop (their branches stay pending in the state table), the heartbeat stops (the registration stays), the broker server closes, and a DataSource this module initialized is destroyed.
 */
@Injectable()
export class ParticipantRuntime
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger('ParticipantModule');
  private lease: ParticipantLease | undefined;
  private ownsDataSource = false;
  private server: PhaseServer | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;
  private threePhase: ThreePhaseHandlers | undefined;
  /** Set once the application starts to shut down: answers close their connection. */
  private closing = false;

  constructor(
    @Inject(PARTICIPANT_OPTIONS) private readonly options: ParticipantModuleOptions,
    private readonly adapterHost: HttpAdapterHost,
    private readonly discovery: PhaseHandlerDiscovery,
    @Inject(Outbox) private readonly outbox: Outbox | null,
  ) {}

  async onModuleInit(): Promise<void> {
    const { dataSource, barrierTable = DEFAULT_BARRIER_TABLE, secret } = this.options;
    if (dataSource.options.type !== 'postgres') {
      throw new Error(`ParticipantModule needs a Postgres DataSource, got ${dataSource.options.type}`);
    }
    if (!dataSource.isInitialized) {
      await dataSource.initialize();
      this.ownsDataSource = true;
    }
    const barrier = new Barrier(barrierTable);
    // the barrier's whole migration: one idempotent CREATE TABLE IF NOT EXISTS
    await barrier.install(dataSource);
    if (this.options.barrierRetention) await this.startBarrierRetention(barrier, this.options.barrierRetention);

    const registry = this.discovery.discover();
    if (this.outbox) await this.outbox.install();
    const threePhase = await this.startThreePhase(registry, dataSource, barrier);
    const dispatcher = new PhaseDispatcher({
      threePhase,
      registry,
      dataSource,
      barrier,
      secret,
      outbox: this.outbox ?? undefined,
      onError: (error, path) => this.logger.error(`${path} failed (answered 500, retried): ${describe(error)}`),
    });
    // a sender's check is served beside its handlers, at the path its messages name
    const handled = registry.routes();
    const routes = [
      ...handled,
      // the 3PC phases an action has no handler for are served too (see ThreePhaseHandlers.routes)
      ...(threePhase?.routes().filter((r) => !handled.some((h) => h.path === r.path)) ?? []),
      ...(this.outbox ? [{ path: this.outbox.checkPath, key: { phase: Phase.Check } }] : []),
    ];
    const paths = routes.map((r) => r.path);
    const { transport, name } = this.options;
    if (transport) {
      const server = phaseServer(transport, name, routes, dispatcher);
      await new Promise<void>((resolve, reject) =>
        server.listen((error?: unknown) => (error ? reject(error as Error) : resolve())),
      );
      this.server = server;
      this.logger.log(
        `serving ${paths.join(', ') || 'no phase handlers'} over ${transport.kind} as txn.${name}.<phase>`,
      );
      return;
    }
    if (!this.options.url) throw new Error('ParticipantModule needs `url` (HTTP) or `transport` (a broker)');
    mountPhaseRoutes(this.fastify(), routes, dispatcher, () => this.closing);
    this.logger.log(`serving ${paths.length ? paths.join(', ') : 'no phase handlers'}`);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.options.register === false) return;
    const ttlSeconds = this.options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    this.lease = new ParticipantLease({
      coordinatorUrl: this.options.coordinatorUrl,
      name: this.options.name,
      url: this.options.transport?.url ?? this.options.url ?? '',
      instanceId: this.options.instanceId ?? (this.options.transport ? processInstanceId() : undefined),
      transport: this.options.transport?.kind,
      secret: this.options.secret,
      apiKey: this.options.apiKey,
      ttlSeconds,
      heartbeatMs: this.options.heartbeatMs ?? Math.round((ttlSeconds * 1000) / 3),
      onError: (error) => this.logger.warn(`lease of ${this.options.name}: ${error.message}`),
      onDrained: () => void this.stopConsuming(),
    });
    await this.lease.start();
  }

  /**
   * A drained instance takes no new call. Over HTTP the coordinator sees to that; over a broker the
   * broker hands a request to whichever process consumes it, so this process stops consuming. A
   * reply still being worked on when the connection closes is lost: the coordinator asks again, and
   * another instance's barrier answers as this one's would.
   */
  private async stopConsuming(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    try {
      await server.close();
      this.logger.warn(`drained by the coordinator: stopped taking calls over ${this.options.transport?.kind}`);
    } catch (error) {
      this.logger.warn(`drained by the coordinator, but closing the broker server failed: ${describe(error)}`);
    }
  }

  /** The 3PC handlers' timers, with the branches left pending by the last run armed again (or resolved, when past due). */
  private async startThreePhase(
    registry: HandlerRegistry,
    dataSource: DataSource,
    barrier: Barrier,
  ): Promise<ThreePhaseHandlers | undefined> {
    const threePhase = new ThreePhaseHandlers({
      registry,
      dataSource,
      barrier,
      table: this.options.threePhase?.table,
      marginMs: this.options.threePhase?.marginMs,
      onError: (error, key, decision) =>
        this.logger.warn(
          `3pc timer ${decision} of ${key.transactionId}/${key.branchId} failed, retrying: ${describe(error)}`,
        ),
      onEvent: (event) =>
        this.logger.log(
          event.type === 'conflict'
            ? `3pc ${event.decision} of ${event.key.transactionId}/${event.key.branchId} arrived after this branch was ${event.status}: nothing changed`
            : `3pc ${event.type === 'timer-commit' ? 'committed' : 'aborted'} ${event.key.transactionId}/${event.key.branchId} on its own: no decision by its deadline`,
        ),
    });
    if (!threePhase.any) return undefined;
    const { resolved, armed } = await threePhase.start();
    if (resolved + armed > 0) this.logger.log(`3pc timers: ${resolved} branch(es) resolved at start, ${armed} armed`);
    this.threePhase = threePhase;
    return threePhase;
  }

  /** Deletes old barrier rows now and then (see {@link ParticipantModuleOptions.barrierRetention}). */
  private async startBarrierRetention(barrier: Barrier, { olderThanMs, everyMs = 3_600_000 }: BarrierRetention) {
    const db = this.options.dataSource;
    await db.query(Barrier.retentionDdl(barrier.table));
    const clean = () =>
      barrier
        .deleteOlderThan(db, new Date(Date.now() - olderThanMs))
        .then((n) => n > 0 && this.logger.log(`barrier retention: deleted ${n} row(s)`))
        .catch((error: Error) => this.logger.warn(`barrier retention failed, trying again later: ${error.message}`));
    void clean();
    this.retentionTimer = setInterval(() => void clean(), everyMs);
    this.retentionTimer.unref();
  }

  /**
   * The lease stops first, before Nest closes the HTTP server: that close waits for the connections
   * of calls in flight, and the coordinator keeps such a connection open, idle, for up to a minute.
   * Answers from now on close their connection, so the close does not wait for it.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    await this.lease?.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await this.threePhase?.close();
    await this.lease?.stop();
    await this.server?.close();
    if (this.ownsDataSource && this.options.dataSource.isInitialized) await this.options.dataSource.destroy();
  }

  private fastify(): FastifyInstance {
    const adapter = this.adapterHost.httpAdapter as { getType(): string; getInstance(): unknown } | undefined;
    if (!adapter) throw new Error('ParticipantModule needs an HTTP application (NestFactory.create)');
    if (adapter.getType() !== 'fastify') {
      throw new Error(`ParticipantModule serves its routes on the Fastify adapter only, not ${adapter.getType()}`);
    }
    return adapter.getInstance() as FastifyInstance;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
