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
