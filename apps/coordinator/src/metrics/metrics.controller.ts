import { Controller, Get, Header } from '@nestjs/common';
import { CoordinatorMetrics } from './coordinator-metrics';
import { Access } from '../access/access.decorator';

@Controller('metrics')
@Access('metrics')
export class MetricsController {
  constructor(private readonly metrics: CoordinatorMetrics) {}

  @Get()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
