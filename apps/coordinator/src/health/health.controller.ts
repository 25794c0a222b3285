import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
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
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    try {
      return await this.checks();
    } catch (error) {
      // 503 with terminus's report of which check is down (the problem filter would drop it)
      if (!(error instanceof ServiceUnavailableException)) throw error;
      void reply.status(503);
      return error.getResponse();
    }
  }

  private checks() {
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
