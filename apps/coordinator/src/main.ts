import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Limits } from '#contracts';
import { migrateDatabase } from '#store';
import { AppModule } from './app.module';
import { loadConfig, type Config } from './config/config';
import { DatabaseStartError, openDatabase } from './config/database';
import { setupDocs } from './docs/openapi';
import { closeConnectionsOnDrain, httpServerOptions, installRequestGuards, parseJsonBody } from './http/http-server';
import { serveDashboard } from './http/dashboard';
import { installSecurityHeaders } from './http/security-headers';
import { ProblemFilter } from './http/problem.filter';
import { requireKeyBeforeBody, requireKeyForDocs } from './access/docs-access';
import { PinoNestLogger, createRootLogger } from './logging/pino-logger';
import { startTracing } from './tracing/otlp-tracing';

/** How long a clean stop may take before the process ends anyway (exit 1). */
const STOP_DEADLINE_MS = 15_000;

async function bootstrap(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(2);
  }
  const logger = new PinoNestLogger(createRootLogger(config.LOG_LEVEL));
  const stopTracing = await startTracing();
  if (stopTracing) logger.log('tracing on: spans exported over OTLP/HTTP', 'Bootstrap');
  const db = await openDatabase(config, logger);
  await migrateDatabase(db.url);
  const adapter = new FastifyAdapter(httpServerOptions(config.REQUEST_TIMEOUT_MS));
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, db.url), adapter, {
    logger,
  });
  app.useGlobalFilters(new ProblemFilter());
  app.useBodyParser('application/json', { bodyLimit: Limits.maxBodyBytes }, (request, body, done) => {
    try {
      done(null, parseJsonBody(request.headers['content-type'], body));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  requireKeyBeforeBody(app); // first: an unknown caller learns nothing from the other checks
  installRequestGuards(app.getHttpAdapter().getInstance());
  installSecurityHeaders(app.getHttpAdapter().getInstance());
  const drain = closeConnectionsOnDrain(app.getHttpAdapter().getInstance());
  // a worker serves health and metrics only: no API, so no docs of it and no dashboard to call it
  const servesApi = config.ROLE !== 'worker';
  if (servesApi) {
    if (!config.DOCS_PUBLIC) requireKeyForDocs(app); // before the docs routes exist, so it covers them
    setupDocs(app);
    await serveDashboard(app);
  }
  await app.listen(config.PORT, config.HOST).catch((error: NodeJS.ErrnoException) => {
    // the address itself is wrong (no such host, not ours, taken): one line naming the variable
    const why = LISTEN_ERRORS[error.code ?? ''];
    if (!why) throw error;
    process.stderr.write(
      `coordinator failed to start: cannot listen on HOST=${config.HOST} PORT=${config.PORT}: ${why}\n`,
    );
    process.exit(1);
  });
  // A clean stop: SIGINT (Ctrl-C) or SIGTERM lets go of owned transactions (others, or the next
  // start, take them at once), closes the pools, then stops an embedded Postgres (which runs in a
  // process group of its own, so a terminal's Ctrl-C does not stop it first). A connection ending
  // meanwhile (57P01: a server stopped by someone else) is part of stopping, not a crash. Installed
  // before the ready line: a signal sent the moment it is read must not find Node's default (death by it).
  let stopping = false;
  process.on('uncaughtException', (error) => {
    if (stopping && isConnectionEnding(error)) return;
    process.stderr.write(`coordinator crashed: ${error.stack ?? String(error)}\n`);
    process.exit(1);
  });
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: stopping`, 'Bootstrap');
    // a store that accepts connections and never answers would hold a step of the stop for good:
    // past this, the process ends anyway, as after a crash (its transactions are taken over after
    // INSTANCE_TTL_MS), rather than wait for an orchestrator's SIGKILL
    setTimeout(() => {
      logger.warn(
        `${signal}: not stopped within ${STOP_DEADLINE_MS} ms (Postgres or the queue's store does not answer): exiting 1; ` +
          'the transactions this instance holds are taken over after INSTANCE_TTL_MS',
        'Bootstrap',
      );
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    drain();
    await app.close().catch(() => undefined);
    await stopTracing?.();
    await db.stop().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  const base = `http://${config.HOST}:${(app.getHttpServer().address() as { port: number }).port}`;
  // printed whatever LOG_LEVEL says: scripts and tests wait for this line (and read the base URL from it)
  const served = servesApi
    ? `API ${base}/v1, dashboard ${base}/, docs ${base}/docs`
    : `API ${base}/v1 not served (a worker serves health and metrics only), metrics ${base}/metrics`;
  const ready =
    `coordinator ready: ${served}, health ${base}/health/ready, database ${db.description}, ` +
    `queue on ${config.REDIS_URL ? 'Redis' : 'Postgres'}, role ${config.ROLE}`;
  process.stdout.write(
    `${JSON.stringify({ level: 'info', time: Date.now(), pid: process.pid, context: 'Bootstrap', msg: ready })}\n`,
  );
  // for a person at a terminal; on stderr, so stdout stays JSON lines (a container given a TTY)
  if (servesApi && !process.env.CI && process.stderr.isTTY) {
    process.stderr.write(
      `\n  Dashboard  ${base}/\n  API        ${base}/v1\n  Docs       ${base}/docs\n  Database   ${db.description}\n\n`,
    );
  }
}

/** A pg error of a server shutting down or a connection cut: expected while the process stops. */
function isConnectionEnding(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return (
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03' ||
    /Connection terminated|ECONNRESET|EPIPE/.test(String((error as Error)?.message ?? error))
  );
}

/** Why a listen failed, for the errors that are a bad HOST or PORT rather than a bug. */
const LISTEN_ERRORS: Record<string, string> = {
  ENOTFOUND: 'HOST is not a known host name',
  EAI_AGAIN: 'HOST could not be resolved',
  EADDRNOTAVAIL: 'HOST is not an address of this machine',
  EADDRINUSE: 'PORT is taken by another process',
  EACCES: 'PORT needs privileges this process does not have',
};

void bootstrap().catch((error) => {
  const told =
    error instanceof DatabaseStartError ? error.message : error instanceof Error ? error.stack : String(error);
  process.stderr.write(`coordinator failed to start: ${told}\n`);
  process.exit(1);
});
