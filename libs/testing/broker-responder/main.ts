import type { MessageHandler, Server } from '@nestjs/microservices';
import { ServerNats, ServerRMQ, ServerRedis } from '@nestjs/microservices';

/**
 * A participant written without the SDK: a plain Nest microservice with one handler per phase
 * pattern `txn.<name>.<phase>`, answering `{outcome, result?}` as the participant contract says.
 * Each message it gets is printed as a line `seen <JSON>`. What a phase answers is read from the
 * payload: `{"answers": {"<phase>": ["retry", "no", ...]}}` gives the outcome of each attempt (yes
 * past the list's end). Env: TRANSPORT (nats, redis, rmq), BROKER_URL, PARTICIPANT_NAME.
 */
const PHASES = ['action', 'compensate', 'try', 'confirm', 'cancel', 'prepare', 'commit', 'rollback'];

type Message = { phase?: string; attempt?: number; payload?: { answers?: Record<string, string[]> } };

function server(kind: string, url: string, name: string): Pick<Server, 'addHandler' | 'listen' | 'close'> {
  const u = new URL(url);
  switch (kind) {
    case 'nats':
      return new ServerNats({ servers: [url] });
    case 'redis':
      return new ServerRedis({ host: u.hostname, port: Number(u.port || 6379) });
    case 'rmq':
    case 'rabbitmq':
      return new ServerRMQ({
        urls: [url],
        queue: `txn.${name}`,
        exchange: 'txn',
        exchangeType: 'topic',
        wildcards: true,
        queueOptions: { durable: false, autoDelete: true },
      });
    default:
      throw new Error(`unknown TRANSPORT ${kind}`);
  }
}

async function main(): Promise<void> {
  const { TRANSPORT = 'nats', BROKER_URL = 'nats://127.0.0.1:4222', PARTICIPANT_NAME = 'plain' } = process.env;
  const s = server(TRANSPORT, BROKER_URL, PARTICIPANT_NAME);
  for (const phase of PHASES) {
    const handler = (async (data: Message) => {
      process.stdout.write(`seen ${JSON.stringify(data)}\n`);
      const outcome = data.payload?.answers?.[phase]?.[(data.attempt ?? 1) - 1] ?? 'yes';
      return outcome === 'no' ? { outcome, result: { refused: phase } } : { outcome, result: { done: phase } };
    }) as MessageHandler;
    s.addHandler(`txn.${PARTICIPANT_NAME}.${phase}`, handler, false);
  }
  await new Promise<void>((resolve, reject) =>
    s.listen((error?: unknown) => (error ? reject(error as Error) : resolve())),
  );
  process.stdout.write(`responder ready: ${TRANSPORT} ${PARTICIPANT_NAME}\n`);
  process.once('SIGTERM', () => void s.close().then(() => process.exit(0)));
}

void main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
