import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { Outcome } from '#contracts';

/** What the gauges read when Prometheus scrapes: wired once the store, pool and queue exist. */
export interface MetricSources {
  /** Ops waiting for the log writer's next flush. */
  logBacklog(): number;
  /** Transactions in `failed`, waiting for an operator (from the log, so every instance agrees). */
  failedTransactions(): Promise<number>;
  /** Jobs in the wake-up queue by state. */
  queueDepth(): Promise<Record<string, number>>;
}

/** The coordinator's Prometheus metrics, on a registry of its own (served at GET /metrics). */
export class CoordinatorMetrics {
  readonly registry = new Registry();
  readonly transactionsStarted = new Counter({
    name: 'txc_transactions_started_total',
    help: 'Transactions accepted, by protocol',
    labelNames: ['protocol'],
    registers: [this.registry],
  });
  readonly transactionsSettled = new Counter({
    name: 'txc_transactions_settled_total',
    help: 'Transactions that reached committed, aborted or failed',
    labelNames: ['protocol', 'status'],
    registers: [this.registry],
  });
  readonly calls = new Counter({
    name: 'txc_participant_calls_total',
    help: 'Phase deliveries to participants, by participant, phase and outcome',
    labelNames: ['participant', 'phase', 'outcome'],
    registers: [this.registry],
  });
  readonly callSeconds = new Histogram({
    name: 'txc_participant_call_seconds',
    help: 'Participant call latency',
    labelNames: ['phase'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly instanceCalls = new Counter({
    name: 'txc_participant_instance_calls_total',
    help: 'Phase deliveries by participant instance and outcome',
    labelNames: ['participant', 'instance', 'outcome'],
    registers: [this.registry],
  });
  readonly deferred = new Counter({
    name: 'txc_participant_calls_deferred_total',
    help: 'Deliveries deferred without using an attempt, by participant and reason (no-live-instance, circuit-open, limit, probe-failed, deadline)',
    labelNames: ['participant', 'reason'],
    registers: [this.registry],
  });
  readonly circuit = new Gauge({
    name: 'txc_participant_circuit_state',
    help: "This coordinator's circuit per participant instance: 0 closed, 1 half-open, 2 open",
    labelNames: ['participant', 'instance'],
    registers: [this.registry],
  });
  readonly alerts = new Counter({
    name: 'txc_alerts_total',
    help: 'Alert webhook deliveries, by kind and result (delivered, retried)',
    labelNames: ['kind', 'result'],
    registers: [this.registry],
  });
  readonly autoReplays = new Counter({
    name: 'txc_auto_replays_total',
    help: 'Failed transactions replayed automatically once their participant was healthy again',
    labelNames: ['participant'],
    registers: [this.registry],
  });
  readonly recovered = new Counter({
    name: 'txc_transactions_recovered_total',
    help: 'Transactions taken over from a dead owner or re-driven after a delay',
    registers: [this.registry],
  });
  readonly driving = new Gauge({
    name: 'txc_transactions_driving',
    help: 'Transactions this instance is driving now',
    registers: [this.registry],
  });

  readonly retentionDeleted = zeroed(
    new Counter({
      name: 'txc_retention_deleted_rows_total',
      help: 'Rows deleted by retention (RETENTION_DAYS), by table',
      labelNames: ['table'],
      registers: [this.registry],
    }),
    'table',
    // every table retention deletes from, so each series reads 0 before its first deletion (or without retention)
    ['transactions', 'branches', 'events', 'idempotency_keys', 'alerts'],
  );
  readonly logBatchSize = new Histogram({
    name: 'txc_log_writer_batch_size',
    help: 'Ops per group-commit flush of the transaction log (one txc_apply call, one commit)',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });
  private sources: MetricSources | null = null;
  readonly logBacklog = new Gauge({
    name: 'txc_log_writer_backlog',
    help: 'Log ops waiting for the next group-commit flush on this instance',
    registers: [this.registry],
    collect: () => {
      if (this.sources) this.logBacklog.set(this.sources.logBacklog());
    },
  });
  readonly failedTransactions = new Gauge({
    name: 'txc_transactions_failed',
    help: 'Transactions parked as failed, waiting for an operator (read from the log)',
    registers: [this.registry],
    collect: async () => {
      // a scrape while Postgres is away (or unreachable, hanging) leaves the last value rather than failing the scrape
      const n = await within(this.sources?.failedTransactions());
      if (typeof n === 'number') this.failedTransactions.set(n);
    },
  });
  readonly queueDepth = new Gauge({
    name: 'txc_queue_jobs',
    help: 'Jobs in the wake-up queue (Redis or BullMQ on Postgres), by state',
    labelNames: ['state'],
    registers: [this.registry],
    collect: async () => {
      const depth = await within(this.sources?.queueDepth());
      for (const [state, n] of Object.entries(depth ?? {})) this.queueDepth.set({ state }, n);
    },
  });

  /** Drops the series of an instance no longer registered (its calls, its circuit): instance ids are unbounded. */
  forgetInstance(participant: string, instance: string): void {
    this.circuit.remove({ participant, instance });
    for (const outcome of Object.values(Outcome)) this.instanceCalls.remove({ participant, instance, outcome });
  }

  /** Connects the gauges to what they read. */
  observe(sources: MetricSources): void {
    this.sources = sources;
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'txc_' });
  }
}

/** How long a scrape waits for a gauge read from the log or the queue. */
const SOURCE_WAIT_MS = 1_000;

/**
 * The value of `read`, or null when it fails or takes longer than SOURCE_WAIT_MS: a partitioned
 * Postgres does not answer at all, and a scrape must still answer (with the gauges' last values).
 */
function within<T>(read: Promise<T> | undefined): Promise<T | null> {
  if (!read) return Promise.resolve(null);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), SOURCE_WAIT_MS);
    timer.unref();
  });
  return Promise.race([read.catch(() => null), late]).finally(() => clearTimeout(timer));
}

/** `counter` with a series at 0 for each of `values` of `label`: a labelled counter shows none until its first increment. */
function zeroed<L extends string>(counter: Counter<L>, label: L, values: string[]): Counter<L> {
  for (const value of values) counter.inc({ [label]: value } as Partial<Record<L, string>>, 0);
  return counter;
}
