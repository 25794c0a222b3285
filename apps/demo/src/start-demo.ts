import type { AddressInfo } from 'node:net';
import { Pool } from 'pg';
import { ACCOUNTS } from './accounts/accounts.ledger';
import type { DemoOptions } from './demo-options';
import { INVENTORY } from './inventory/inventory.ledger';
import { createLedgerService } from './ledger/ledger-service';
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
  const pools = [0, 1].map(() => {
    const pool = new Pool({ connectionString: options.databaseUrl, max: options.poolSize ?? 16 });
    // an idle client losing its connection (Postgres restart) must not crash the process
    pool.on('error', (error) => process.stderr.write(`demo: idle Postgres client failed: ${error.message}\n`));
    return pool;
  });
  const serviceOptions = { secret: options.secret, threePhaseTimerMarginMs: options.threePhaseTimerMarginMs };
  const accounts = createLedgerService(ACCOUNTS, pools[0], serviceOptions);
  const inventory = createLedgerService(INVENTORY, pools[1], serviceOptions);
  const services = [accounts, inventory];

  let closed: Promise<void> | null = null;
  const close = () =>
    (closed ??= (async () => {
      // calls held by a partition would keep the servers from closing
      for (const s of services) s.faults.releaseHeld();
      await Promise.allSettled(services.map((s) => s.app.close()));
      await Promise.allSettled(services.map((s) => s.stopTimers()));
      await Promise.allSettled(pools.map((pool) => pool.end()));
    })());

  try {
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
