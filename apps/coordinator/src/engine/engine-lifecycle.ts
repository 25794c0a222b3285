import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { TransactionStore } from '#store';
import type { Config } from '../config/config';
import { CONFIG, STORE } from '../tokens';
import { Engine } from './engine.service';
import { Sweeper } from './sweeper';
import { WakeScheduler } from './wake-scheduler';
import { ParticipantHealth } from '../participants/participant-health';

/** Starts the clock (BullMQ worker) and the sweeper after boot; stops them and lets go of owned work on shutdown. */
@Injectable()
export class EngineLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly sweeper: Sweeper;

  constructor(
    private readonly engine: Engine,
    private readonly scheduler: WakeScheduler,
    private readonly health: ParticipantHealth,
    @Inject(STORE) store: TransactionStore,
    @Inject(CONFIG) private readonly config: Config,
  ) {
    this.sweeper = new Sweeper(engine, store, {
      intervalMs: config.SWEEP_INTERVAL_MS,
      instanceTtlMs: config.INSTANCE_TTL_MS,
      batch: 100,
      takeOver: config.ROLE !== 'api',
      // participant health (auto-replay, alerts) is the driving instances' work; an api instance
      // calls participants too (the interactive calls it drives), so it takes its limit share
      onPass: config.ROLE !== 'api' ? () => health.tick() : () => health.shareLimits(),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    const drives = this.config.ROLE !== 'api';
    await this.scheduler.start(async (id) => void (await this.engine.resume(id)), drives);
    this.sweeper.start();
    if (drives) this.health.alerts?.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.sweeper.stop();
    await this.health.alerts?.stop();
    await this.scheduler.close();
    await this.engine.shutdown();
  }
}
