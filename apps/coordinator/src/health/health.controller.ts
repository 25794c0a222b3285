import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { WakeScheduler } from '../engine/wake-scheduler';
import { Access } from '../access/access.decorator';

@Controller('health')
@Access('public')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly scheduler: WakeScheduler,
  ) {}

  /** The process answers. */
  @Get('live')
  live() {
    return { status: 'ok' };
  }

  /** Postgres and the queue's store (Redis, or Postgres in zero-config mode) answer. */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.db.pingCheck('postgres').withTimeout(2_000),
      async () => {
        const queue = this.indicators.check('queue');
        try {
          await withTimeout(this.scheduler.ping(), 2_000);
          return queue.up({ backend: this.scheduler.backend });
        } catch (e) {
          return queue.down({ backend: this.scheduler.backend, message: String(e) });
        }
      },
    ]);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);
}
