import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { DataSource } from 'typeorm';
import { ParticipantModule } from '../src/nest';
import { BANK_SCHEMA, BankHandlers } from './bank.handlers';

/**
 * The bank participant as a process, for the e2e tests (Nest 12 is ESM-only, which Jest on Node 20
 * cannot load in-process). Configured by environment; prints `participant ready: <url>` once listening.
 * With TRANSPORT (`nats`, `redis`, `rabbitmq` or `rmq`) and BROKER_URL it serves over that broker instead of
 * HTTP, and PORT is not used.
 */
/**
 * With OTEL_EXPORTER_OTLP_ENDPOINT set, spans go out over OTLP/HTTP: the SDK's phase spans continue
 * the coordinator's trace (what an application does to turn tracing on; the SDK only uses the API).
 */
async function startTracing(): Promise<void> {
  if (!process.env.OTEL_EXPORTER_OTLP_ENDPOINT) return;
  const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  const { resourceFromAttributes } = await import('@opentelemetry/resources');
  const { trace } = await import('@opentelemetry/api');
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': process.env.OTEL_SERVICE_NAME ?? 'bank' }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 100 })],
  });
  trace.setGlobalTracerProvider(provider);
}

async function main(): Promise<void> {
  await startTracing();
  const env = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is required`);
    return value;
  };
  const kind = process.env.TRANSPORT as 'nats' | 'redis' | 'rabbitmq' | 'rmq' | undefined;
  const transport = kind ? { kind, url: env('BROKER_URL') } : undefined;
  const port = transport ? 0 : Number(env('PORT'));
  const url = transport ? transport.url : `http://127.0.0.1:${port}`;
  const dataSource = new DataSource({ type: 'postgres', url: env('DATABASE_URL'), poolSize: 4 });

  @Module({
    imports: [
      ParticipantModule.forRoot({
        coordinatorUrl: env('COORDINATOR_URL'),
        name: env('PARTICIPANT_NAME'),
        ...(transport ? { transport } : { url }),
        secret: process.env.PARTICIPANT_SECRET,
        dataSource,
        ttlSeconds: Number(process.env.TTL_SECONDS ?? 30),
        heartbeatMs: process.env.HEARTBEAT_MS ? Number(process.env.HEARTBEAT_MS) : undefined,
        // the bank sends reliable messages too: its outbox's check is served at /msg/check
        outbox: {},
      }),
    ],
    providers: [BankHandlers],
  })
  class BankModule {}

  const app = await NestFactory.create(BankModule, new FastifyAdapter(), { logger: ['error', 'warn', 'log'] });
  app.enableShutdownHooks();
  await app.init(); // the module initializes the DataSource and registers here
  for (const sql of BANK_SCHEMA) await dataSource.query(sql);
  if (!transport) await app.listen(port, '127.0.0.1');
  process.stdout.write(`participant ready: ${url}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`participant failed to start: ${error.stack ?? error}\n`);
  process.exit(1);
});
