import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

/** libs/testing/broker-responder, built: a participant that speaks the broker contract without the SDK. */
const RESPONDER_MAIN = resolve(__dirname, '../../../dist/libs/testing/broker-responder/main.js');

export interface BrokerResponder {
  child: ChildProcess;
  /** The messages it received so far, in order. */
  seen(): Record<string, unknown>[];
}

/** Starts the plain broker responder with `env` (TRANSPORT, BROKER_URL, PARTICIPANT_NAME) and waits for its ready line. */
export async function startBrokerResponder(env: Record<string, string>): Promise<BrokerResponder> {
  const child = spawn(process.execPath, [RESPONDER_MAIN], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const onData = (chunk: Buffer) => void (output += chunk.toString());
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  await new Promise<void>((ready, fail) => {
    const check = () => output.includes('responder ready:') && ready();
    child.stdout!.on('data', check);
    child.once('exit', (code) => fail(new Error(`responder exited with ${code}:\n${output}`)));
    setTimeout(() => fail(new Error(`responder not ready after 20 s:\n${output}`)), 20_000).unref();
  });
  const seen = () =>
    output
      .split('\n')
      .filter((line) => line.startsWith('seen '))
      .map((line) => JSON.parse(line.slice(5)) as Record<string, unknown>);
  return { child, seen };
}

/** SIGTERM, and waits for the exit. */
export async function stopBrokerResponder(responder: BrokerResponder | undefined): Promise<void> {
  const child = responder?.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  await exited;
}
