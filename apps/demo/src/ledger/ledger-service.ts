import type { FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { Protocol, PROTOCOL_PHASES } from '#contracts';
import { Barrier, PhaseDispatcher, ThreePhaseParticipant } from '#participant';
import { FaultSwitch } from '../http/faults';
import { phaseRoute } from '../http/phase-route';
import { PhaseStats } from '../http/phase-stats';
import { createServiceServer } from '../http/server';
import { Ledger, type LedgerSpec } from './ledger';
import { ledgerHandlers, type LedgerReply } from './ledger.handlers';
import { ledgerThreePhase, threePhaseAnswer } from './ledger.three-phase';

/** A ledger service's tables plus the admin collection path (`accounts` → `PUT /accounts/:key`, `GET /accounts`). */
export interface LedgerServiceSpec extends LedgerSpec {
  collection: string;
  /** The 3PC state table (one row per branch: voted, pre-committed, committed, aborted). */
  threePhaseTable: string;
}

/** What a ledger service can be told beyond its spec. */
export interface LedgerServiceOptions {
  /** When set, phase calls must carry a valid `Txn-Signature` made with it. */
  secret?: string;
  /** Delay after a 3PC call's `deadline` before the service acts on its own. Default 200 ms. */
  threePhaseTimerMarginMs?: number;
}

/** One demo service: its HTTP app (not yet listening) and the DDL its tables need. */
export interface LedgerService {
  app: FastifyInstance;
  ledger: Ledger;
  threePhase: ThreePhaseParticipant<LedgerReply | undefined>;
  faults: FaultSwitch;
  ddl: string[];
  /** Once the tables exist, before listening: 3PC branches left pending by a previous run get their timers back (overdue ones are resolved now). */
  recover(): Promise<{ resolved: number; armed: number }>;
  /** Stops the 3PC timers; call after the server closed and before the pool ends. */
  stopTimers(): Promise<void>;
}

/**
 * Builds a ledger service on `dataSource` (initialized, Postgres): the saga, TCC and 2PC phases
 * answered by the participant SDK's PhaseDispatcher (handlers in ledger.handlers.ts, behind the
 * barrier), the 3PC phases by its ThreePhaseParticipant (with the participant timers), the admin
 * routes and the fault/stats test surface. `pool` is the pg pool of the same database (3PC and admin).
 */
export function createLedgerService(
  spec: LedgerServiceSpec,
  dataSource: DataSource,
  pool: Pool,
  options: LedgerServiceOptions = {},
): LedgerService {
  const ledger = new Ledger(spec);
  const barrier = new Barrier(spec.barrierTable);
  const faults = new FaultSwitch();
  const stats = new PhaseStats();
  const app = createServiceServer(faults, stats);

  const dispatcher = new PhaseDispatcher({
    registry: ledgerHandlers(ledger),
    dataSource,
    barrier,
    secret: options.secret,
    onError: (error, path) =>
      process.stderr.write(`demo: ${path} failed (answered 500, retried): ${(error as Error).stack ?? error}\n`),
  });
  for (const protocol of [Protocol.Saga, Protocol.Tcc, Protocol.TwoPhase, Protocol.Msg]) {
    for (const phase of PROTOCOL_PHASES[protocol]) {
      // a message's action shares the saga's phase name: its key names the protocol
      const key = protocol === Protocol.Msg ? { phase, protocol } : { phase };
      phaseRoute(app, { faults, stats }, protocol, phase, (_call, delivery) => dispatcher.dispatch(key, delivery));
    }
  }

  const threePhase = ledgerThreePhase(ledger, {
    pool,
    barrier,
    table: spec.threePhaseTable,
    marginMs: options.threePhaseTimerMarginMs,
    onEvent: (event) => stats.threePhase(event),
  });
  const answer3pc = threePhaseAnswer(threePhase, options.secret);
  for (const phase of PROTOCOL_PHASES[Protocol.ThreePhase]) {
    phaseRoute(app, { faults, stats }, Protocol.ThreePhase, phase, answer3pc);
  }

  app.get(`/${spec.collection}`, async () => ledger.list(pool));
  app.put<{ Params: { key: string } }>(`/${spec.collection}/:key`, async (request, reply) => {
    const amount = (request.body as Record<string, unknown> | undefined)?.[spec.amountField];
    if (!Number.isSafeInteger(amount) || (amount as number) < 0 || (amount as number) > maxOf(spec)) {
      return reply.code(400).send({ error: `${spec.amountField} must be a non-negative integer` });
    }
    await ledger.put(pool, request.params.key, amount as number);
    return { [spec.keyField]: request.params.key, [spec.amountField]: amount };
  });
  app.get<{ Querystring: { transactionId?: string } }>('/_3pc', async (request) => {
    const items = await threePhase.branches(request.query.transactionId || undefined);
    return { items, armed: threePhase.timers.armed() };
  });

  return {
    app,
    ledger,
    threePhase,
    faults,
    ddl: [...ledger.ddl(), Barrier.ddl(spec.barrierTable), ...ThreePhaseParticipant.ddl(spec.threePhaseTable)],
    recover: () => threePhase.recover(),
    stopTimers: () => threePhase.close(),
  };
}

function maxOf(spec: LedgerSpec): number {
  return spec.amountType === 'integer' ? 2 ** 31 - 1 : Number.MAX_SAFE_INTEGER;
}
