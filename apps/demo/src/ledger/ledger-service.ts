import type { FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import { Barrier } from '#participant';
import { FaultSwitch } from '../http/faults';
import { PhaseStats } from '../http/phase-stats';
import { createServiceServer } from '../http/server';
import { Ledger, type LedgerSpec } from './ledger';
import { registerLedgerPhases } from './ledger.routes';

/** A ledger service's tables plus the admin collection path (`accounts` → `PUT /accounts/:key`, `GET /accounts`). */
export interface LedgerServiceSpec extends LedgerSpec {
  collection: string;
}

/** One demo service: its HTTP app (not yet listening) and the DDL its tables need. */
export interface LedgerService {
  app: FastifyInstance;
  ledger: Ledger;
  ddl: string[];
}

/** Builds a ledger service on `pool`: barrier-guarded phase routes, admin routes and the test surface. */
export function createLedgerService(spec: LedgerServiceSpec, pool: Pool, secret?: string): LedgerService {
  const ledger = new Ledger(spec);
  const barrier = new Barrier(spec.barrierTable);
  const faults = new FaultSwitch();
  const stats = new PhaseStats();
  const app = createServiceServer(faults, stats);
  registerLedgerPhases(app, { pool, barrier, faults, stats, secret }, ledger);

  app.get(`/${spec.collection}`, async () => ledger.list(pool));
  app.put<{ Params: { key: string } }>(`/${spec.collection}/:key`, async (request, reply) => {
    const amount = (request.body as Record<string, unknown> | undefined)?.[spec.amountField];
    if (!Number.isSafeInteger(amount) || (amount as number) < 0 || (amount as number) > maxOf(spec)) {
      return reply.code(400).send({ error: `${spec.amountField} must be a non-negative integer` });
    }
    await ledger.put(pool, request.params.key, amount as number);
    return { [spec.keyField]: request.params.key, [spec.amountField]: amount };
  });

  return { app, ledger, ddl: [...ledger.ddl(), Barrier.ddl(spec.barrierTable)] };
}

function maxOf(spec: LedgerSpec): number {
  return spec.amountType === 'integer' ? 2 ** 31 - 1 : Number.MAX_SAFE_INTEGER;
}
