import { Controller, Get, Query } from '@nestjs/common';
import { Access } from '../access/access.decorator';
import { Permission } from '../access/permissions';
import type { StatsView } from '#contracts';
import { StatsService } from './stats.service';

@Controller('v1/stats')
export class StatsController {
  constructor(private readonly stats: StatsService) {}

  /** `?window=15m|1h|6h|24h` (default 1h); given with no value, it is refused like any other bad value. */
  @Get()
  @Access(Permission.Read)
  get(@Query('window') window: string | undefined): Promise<StatsView> {
    return this.stats.stats(window ?? '1h');
  }
}
