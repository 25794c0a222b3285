import { Module, type INestApplication, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { DataSource } from 'typeorm';
import { ParticipantModule } from '#participant/nest';
import { SHIPPING_DDL, ShippingHandlers } from './shipping.handlers';

/** What {@link startShipping} needs. */
export interface ShippingOptions {
  databaseUrl: string;
  /** The NATS server the coordinator reaches the service through, e.g. `nats://127.0.0.1:4222`. */
  natsUrl: string;
  /** The participant name (the subjects are `txn.<name>.<phase>`). Default `shipping`. */
  name?: string;
  /** When set, the service registers itself there and renews its lease. */
  coordinatorUrl?: string;
  /** API key with the `participant` role, when the coordinator requires keys. */
  apiKey?: string;
  /** When set, phase calls must carry a valid `Txn-Signature` made with it (and it is registered). */
  secret?: string;
  poolSize?: number;
}

/** The running shipping service. */
export interface Shipping {
  name: string;
  natsUrl: string;
  /** Stops answering, stops the lease, closes the database pool. */
  close(): Promise<void>;
}

/**
 * Starts the shipping service: a Nest application whose only transport is NATS (no HTTP port),
 * made a participant by `ParticipantModule`. Resolves once it is subscribed (and registered, with a
 * coordinator). Rejects when NATS cannot be reached.
 */
export async function startShipping(options: ShippingOptions): Promise<Shipping> {
  const name = options.name ?? 'shipping';
  const dataSource = new DataSource({ type: 'postgres', url: options.databaseUrl, poolSize: options.poolSize ?? 8 });

  @Module({
    imports: [
      ParticipantModule.forRoot({
        coordinatorUrl: options.coordinatorUrl ?? 'http://127.0.0.1:7070',
        register: options.coordinatorUrl !== undefined,
        name,
        transport: { kind: 'nats', url: options.natsUrl },
        secret: options.secret,
        apiKey: options.apiKey,
        dataSource,
      }),
    ],
    providers: [ShippingHandlers],
  })
  class ShippingModule {}

  // the demo's stdout carries one line (the ready line): Nest's own lines go to stderr
  const app: INestApplication = await NestFactory.create(ShippingModule, new FastifyAdapter(), {
    logger: stderrLogger('shipping'),
  });
  try {
    await app.init(); // the module initializes the DataSource, subscribes on NATS and registers here
    for (const sql of SHIPPING_DDL) await dataSource.query(sql);
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  let closed: Promise<void> | null = null;
  return { name, natsUrl: options.natsUrl, close: () => (closed ??= app.close()) };
}

function stderrLogger(prefix: string): LoggerService {
  const write = (level: string) => (message: unknown) =>
    process.stderr.write(`demo ${prefix}: ${level}: ${String(message)}\n`);
  return { log: () => undefined, error: write('error'), warn: write('warn') };
}
