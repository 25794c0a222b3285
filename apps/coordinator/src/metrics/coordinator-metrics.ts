import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'txc_' });
  }
}
