import { resolve } from 'node:path';
import { startUntilReady, stopGracefully, type ReadyProcess } from './ready-process';

/** libs/testing/broker-responder, built: a participant that speaks the broker contract without the SDK. */
const RESPONDER_MAIN = resolve(__dirname, '../../../dist/libs/testing/broker-responder/main.js');

export interface BrokerResponder extends ReadyProcess {
  /** The messages it received so far, in order. */
  seen(): Record<string, unknown>[];
}

/** Starts the plain broker responder with `env` (TRANSPORT, BROKER_URL, PARTICIPANT_NAME) and waits for its ready line. */
export async function startBrokerResponder(env: Record<string, string>): Promise<BrokerResponder> {
  const started = await startUntilReady('responder', RESPONDER_MAIN, env, 'responder ready:');
  const seen = () =>
    started
      .output()
      .split('\n')
      .filter((line) => line.startsWith('seen '))
      .map((line) => JSON.parse(line.slice(5)) as Record<string, unknown>);
  return { ...started, seen };
}

/** SIGTERM, and waits for the exit. */
export function stopBrokerResponder(responder: BrokerResponder | undefined): Promise<void> {
  return stopGracefully(responder?.child);
}
