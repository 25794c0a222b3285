import type { Pool } from 'pg';
import { resolve } from 'node:path';
import { startUntilReady, stopGracefully, type ReadyProcess } from './ready-process';

/** The SDK's bank example (libs/participant/test-app), built: Nest 12 is ESM-only, so it runs as a process of its own. */
const BANK_MAIN = resolve(__dirname, '../../../dist/libs/participant/test-app/main.js');

export type BankProcess = ReadyProcess;

/** Starts the bank participant with `env` (TRANSPORT, BROKER_URL, DATABASE_URL, ...) and waits for its ready line (20 s). */
export function startBank(env: Record<string, string>): Promise<BankProcess> {
  return startUntilReady('bank', BANK_MAIN, env, 'participant ready:');
}

/** SIGTERM (a graceful stop: it deregisters and flushes what it batched) and waits for the exit. */
export function stopBank(bank: BankProcess | undefined): Promise<void> {
  return stopGracefully(bank?.child);
}

/** The bank's own tables as a test reads and writes them through `db` (a pool on the bank's database). */
export function bankLedger(db: Pick<Pool, 'query'>) {
  return {
    /** Opens an account with `balance`; returns its id. */
    async open(balance: number): Promise<string> {
      const id = `acc-${Math.random().toString(36).slice(2)}`;
      await db.query('INSERT INTO accounts (id, balance) VALUES ($1, $2)', [id, balance]);
      return id;
    },
    async balance(id: string): Promise<number> {
      const { rows } = await db.query<{ balance: number }>('SELECT balance FROM accounts WHERE id = $1', [id]);
      return rows[0].balance;
    },
    /** The phases the bank applied for a transaction, as `branch:phase`, sorted. */
    async ops(transactionId: string): Promise<string[]> {
      const { rows } = await db.query<{ branch_id: string; phase: string }>(
        'SELECT branch_id, phase FROM ops WHERE transaction_id = $1',
        [transactionId],
      );
      return rows.map((r) => `${r.branch_id}:${r.phase}`).sort();
    },
  };
}
