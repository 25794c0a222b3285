import { Logger } from '@nestjs/common';
import { Queue, Worker, createPostgresBackend, withBackend } from 'bullmq';
import IORedis from 'ioredis';
import type { Config } from '../config/config';
import { ThrottledWarning } from '../logging/throttled-warning';
import { queueSchemaOf } from './queue-schema';

const QUEUE = 'wake';
/** How long a start waits for the queue's store before it goes on without it. */
const QUEUE_READY_WAIT_MS = 5_000;
/** How long a stop waits for the queue to close before letting go of it. */
const CLOSE_WAIT_MS = 5_000;
const QUEUE_STATES = ['waiting', 'delayed', 'active', 'failed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/**
 * BullMQ is the engine's clock, not its memory: a job says only "look at transaction X at time T".
 * Losing every job (a Redis flush) delays work until the sweeper finds it in Postgres; it loses
 * nothing. On Redis when REDIS_URL is set, else on BullMQ's Postgres backend in the log database.
 */
export class WakeScheduler {
  private readonly logger = new Logger(WakeScheduler.name);
  private queue: Queue | null = null;
  private worker: Worker | null = null;
  private redis: IORedis | null = null;

  constructor(
    private readonly config: Config,
    private readonly databaseUrl: string,
  ) {}

  get backend(): 'redis' | 'postgres' {
    return this.config.REDIS_URL ? 'redis' : 'postgres';
  }

  /** Opens the queue, and with `runWorker` a worker that hands each due transaction id to `onDue`. */
  async start(onDue: (transactionId: string) => Promise<void>, runWorker: boolean): Promise<void> {
    const prefix = this.config.REDIS_PREFIX;
    const processor = async (job: { data: { id: string } }) => onDue(job.data.id);
    if (this.config.REDIS_URL) {
      this.redis = new IORedis(this.config.REDIS_URL, { maxRetriesPerRequest: null, enableOfflineQueue: true });
      this.queue = new Queue(QUEUE, { connection: this.redis, prefix });
      if (runWorker) {
        this.worker = new Worker(QUEUE, processor, {
          connection: new IORedis(this.config.REDIS_URL, { maxRetriesPerRequest: null }),
          prefix,
          concurrency: this.config.WORKER_CONCURRENCY,
        });
      }
    } else {
      const pg = withBackend(createPostgresBackend);
      const connection = { connectionString: this.databaseUrl, schema: queueSchemaOf(prefix), migrate: true, max: 4 };
      this.queue = new pg.Queue(QUEUE, { connection, prefix }) as unknown as Queue;
      if (runWorker) {
        this.worker = new pg.Worker(QUEUE, processor, {
          connection,
          prefix,
          concurrency: this.config.WORKER_CONCURRENCY,
        }) as unknown as Worker;
      }
    }
    // a client reconnecting to a store that is down reports each try: a line a minute is enough
    const workerErrors = new ThrottledWarning((line) => this.logger.warn(line));
    const queueErrors = new ThrottledWarning((line) => this.logger.warn(line));
    this.worker?.on('error', (e) => workerErrors.report(`wake worker: ${e.message}`));
    this.queue.on('error', (e) => queueErrors.report(`wake queue: ${e.message}`));
    // a store that does not answer yet must not keep the coordinator from starting: the log drives
    // everything, the sweeper stands in for lost wake-ups, and /health/ready says the queue is down
    const ready = this.queue.waitUntilReady().then(
      () => null,
      (error: Error) => error.message,
    );
    const timeout = new Promise<string>((resolve) =>
      setTimeout(() => resolve(`no answer within ${QUEUE_READY_WAIT_MS} ms`), QUEUE_READY_WAIT_MS).unref(),
    );
    const trouble = await Promise.race([ready, timeout]);
    if (trouble !== null) {
      this.logger.warn(
        `the queue's store (${this.backend === 'redis' ? 'Redis' : 'Postgres'}) does not answer yet (${trouble}): ` +
          'starting without it; wake-ups wait for the sweeper until it does, and /health/ready answers 503 meanwhile',
      );
    }
  }

  /** Asks for transaction `id` to be looked at at `at`. Best effort: the sweeper covers a lost job. */
  async schedule(id: string, at: Date): Promise<void> {
    if (!this.queue) return;
    const delay = Math.max(0, at.getTime() - Date.now());
    // custom job ids may not contain ':', which transaction ids may
    const jobId = `${Buffer.from(id).toString('base64url')}-${at.getTime()}`;
    await this.queue.add(
      'wake',
      { id },
      {
        jobId,
        delay,
        removeOnComplete: true,
        removeOnFail: 1000,
        attempts: 5,
        backoff: { type: 'exponential', delay: 500 },
      },
    );
  }

  /**
   * Jobs in the queue by state (its depth), read from the queue's store: Redis, or the tables of
   * BullMQ's Postgres backend. Throws when that store does not answer, which makes it the
   * readiness check of either backend.
   */
  async depth(): Promise<Record<QueueState, number>> {
    if (!this.queue) throw new Error('the queue is not open');
    const counts = await this.queue.getJobCounts(...QUEUE_STATES);
    return Object.fromEntries(QUEUE_STATES.map((s) => [s, counts[s] ?? 0])) as Record<QueueState, number>;
  }

  /** Throws when the queue's store does not answer (readiness). */
  async ping(): Promise<void> {
    await this.depth();
  }

  /**
   * Closes the worker and the queue. Bounded: with its store unreachable BullMQ's close waits for it
   * for good, and a SIGTERM must still stop the process; the wake-ups are derived from the log, so
   * nothing is lost by letting go of them (the connection is then cut).
   */
  async close(): Promise<void> {
    const closing = (async () => {
      await this.worker?.close().catch(() => undefined);
      await this.queue?.close().catch(() => undefined);
    })();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((done) => (timer = setTimeout(() => done(true), CLOSE_WAIT_MS)));
    if (await Promise.race([closing.then(() => false), timedOut])) {
      this.logger.warn(`the queue did not close within ${CLOSE_WAIT_MS} ms (its store does not answer): letting go`);
      void this.worker?.close(true).catch(() => undefined);
    }
    clearTimeout(timer);
    this.redis?.disconnect();
  }
}
