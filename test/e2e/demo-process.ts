import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

// the built demo as the README runs it (npm run start:demo): a process, because its shipping
// service is a Nest application (ESM-only), which Jest on Node 20 cannot load
const DEMO_MAIN = resolve(__dirname, '../../dist/apps/demo/src/main.js');

export interface RunningDemo {
  child: ChildProcess;
  accountsUrl: string;
  inventoryUrl: string;
  output: () => string;
}

export async function startDemoProcess(env: Record<string, string>): Promise<RunningDemo> {
  const child = spawn(process.execPath, [DEMO_MAIN], {
    env: { PATH: process.env.PATH ?? '', ACCOUNTS_PORT: '0', INVENTORY_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const line = await new Promise<string>((ready, fail) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const found = /demo ready: .*\n/.exec(stdout);
      if (found) ready(found[0]);
    });
    child.once('exit', (code) => fail(new Error(`demo exited with ${code}:\n${stdout}${stderr}`)));
    setTimeout(() => fail(new Error(`demo not ready after 30 s:\n${stdout}${stderr}`)), 30_000).unref();
  });
  const [, accountsUrl, inventoryUrl] = /accounts (\S+) inventory (\S+)/.exec(line)!;
  return { child, accountsUrl, inventoryUrl, output: () => stdout + stderr };
}
