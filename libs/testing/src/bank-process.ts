import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

/** The SDK's bank example (libs/participant/test-app), built: Nest 12 is ESM-only, so it runs as a process of its own. */
const BANK_MAIN = resolve(__dirname, '../../../dist/libs/participant/test-app/main.js');

export interface BankProcess {
  child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
}

/** Starts the bank participant with `env` (TRANSPORT, BROKER_URL, DATABASE_URL, ...) and waits for its ready line (20 s). */
export async function startBank(env: Record<string, string>): Promise<BankProcess> {
  const child = spawn(process.execPath, [BANK_MAIN], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const onData = (chunk: Buffer) => void (output += chunk.toString());
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  await new Promise<void>((ready, fail) => {
    const check = () => output.includes('participant ready:') && ready();
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code) => fail(new Error(`bank exited with ${code}:\n${output}`)));
    setTimeout(() => fail(new Error(`bank not ready after 20 s:\n${output}`)), 20_000).unref();
  });
  return { child, output: () => output };
}

/** SIGTERM (a graceful stop: it deregisters and flushes what it batched) and waits for the exit. */
export async function stopBank(bank: BankProcess | undefined): Promise<void> {
  const child = bank?.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  await exited;
}
