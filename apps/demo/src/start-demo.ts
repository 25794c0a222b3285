import type { AddressInfo } from 'node:net';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { ACCOUNTS } from './accounts/accounts.ledger';
import type { DemoOptions } from './demo-options';
import { INVENTORY } from './inventory/inventory.ledger';
import { createLedgerService, type LedgerService } from './ledger/ledger-service';
import { installSchema } from './schema';

/** A running demo: both services listening. */
export interface Demo {
  accountsUrl: string;
  inventoryUrl: string;
  /** Stops both servers (in-flight requests finish) and closes the pools. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts the accounts and inventory services on `options.databaseUrl`: creates their tables (and
 * seeds empty ones unless `seed: false`), gives pending 3PC branches their timers back (resolving
 * those already overdue), then listens. Resolves once both accept connections.
 */
export async function startDemo(options: DemoOptions): Promise<Demo> {
  const host = options.host ?? '127.0.0.1';
  // one TypeORM DataSource per service: the SDK's handlers write through it, and its pg pool also
  // serves the 3PC participant and the admin routes, so each service holds one pool
  const dataSources = [0, 1].map(
    () => new DataSource({ type: 'postgres', url: options.databaseUrl, poolSize: options.poolSize ?? 16 }),
  );
  let closed: Promise<void> | null = null;
  let services: LedgerService[] = [];
  const close = () =>
    (closed ??= (async () => {
      // calls held by a partition would keep the servers from closing
      for (const s of services) s.faults.releaseHeld();
      await Promise.allSettled(services.map((s) => s.app.close()));
      await Promise.allSettled(services.map((s) => s.stopTimers()));
      await Promise.allSettled(dataSources.filter((d) => d.isInitialized).map((d) => d.destroy()));
    })());

  let accounts: LedgerService;
  let inventory: LedgerService;
  try {
    await Promise.all(dataSources.map((d) => d.initialize()));
    const pools = dataSources.map(poolOf);
    const serviceOptions = { secret: options.secret, threePhaseTimerMarginMs: options.threePhaseTimerMarginMs };
    accounts = createLedgerService(ACCOUNTS, dataSources[0], pools[0], serviceOptions);
    inventory = createLedgerService(INVENTORY, dataSources[1], pools[1], serviceOptions);
    services = [accounts, inventory];
    await installSchema(pools[0], [...accounts.ddl, ...inventory.ddl], options.seed ?? true);
    // 3PC branches a previous run left voted or pre-committed: overdue ones are resolved by the timer rule now
    for (const s of services) await s.recover();
    await accounts.app.listen({ host, port: options.accountsPort ?? 0 });
    await inventory.app.listen({ host, port: options.inventoryPort ?? 0 });
  } catch (error) {
    await close();
    throw error;
  }
  return {
    accountsUrl: urlOf(host, accounts.app.server.address() as AddressInfo),
    inventoryUrl: urlOf(host, inventory.app.server.address() as AddressInfo),
    close,
  };
}

function urlOf(host: string, address: AddressInfo): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

/**
 * The pg pool behind a Postgres DataSource (TypeORM's driver keeps it as `master`; it logs an idle
 * client's error, so a Postgres restart does not crash the process).
 */
function poolOf(dataSource: DataSource): Pool {
  return (dataSource.driver as unknown as { master: Pool }).master;
}
