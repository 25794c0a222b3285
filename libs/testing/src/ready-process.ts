import { spawn, type ChildProcess } from 'node:child_process';

export interface ReadyProcess {
  child: ChildProcess;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
}

/** Runs the built script `main` with `env` (and PATH) and waits up to 20 s for `readyText` in its output. */
export async function startUntilReady(
  label: string,
  main: string,
  env: Record<string, string>,
  readyText: string,
): Promise<ReadyProcess> {
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const onData = (chunk: Buffer) => void (output += chunk.toString());
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  await new Promise<void>((ready, fail) => {
    const check = () => output.includes(readyText) && ready();
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code) => fail(new Error(`${label} exited with ${code}:\n${output}`)));
    setTimeout(() => fail(new Error(`${label} not ready after 20 s:\n${output}`)), 20_000).unref();
  });
  return { child, output: () => output };
}

/** SIGTERM, and waits for the exit (nothing to do for a process already gone). */
export async function stopGracefully(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  await exited;
}
