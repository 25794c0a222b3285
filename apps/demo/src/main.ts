import { demoOptionsFromEnv, type DemoEnvOptions } from './demo-options';
import { registerParticipants } from './register-participants';
import { startShipping, type Shipping } from './shipping/shipping.app';
import { startDemo } from './start-demo';

async function main(): Promise<void> {
  const options = demoOptionsFromEnv(process.env);
  const demo = await startDemo(options);
  const shipping = await startShippingOrWarn(options);
  const leases = options.coordinatorUrl
    ? await registerParticipants(
        options.coordinatorUrl,
        [
          { name: 'accounts', url: demo.accountsUrl },
          { name: 'inventory', url: demo.inventoryUrl },
        ],
        options.secret,
        options.leaseSeconds,
        options.apiKey,
      )
    : [];

  const stop = () => {
    (async () => {
      await Promise.allSettled(leases.map((lease) => lease.stop()));
      await Promise.allSettled([demo.close(), shipping?.close()]);
    })().then(
      () => process.exit(0),
      (error: Error) => {
        process.stderr.write(`demo: shutdown failed: ${error.message}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);

  // the one stdout line scripts and tests wait for; registration is done (or warned about) by now
  const shippingPart = shipping ? ` shipping ${shipping.natsUrl} as ${shipping.name}` : '';
  process.stdout.write(`demo ready: accounts ${demo.accountsUrl} inventory ${demo.inventoryUrl}${shippingPart}\n`);
}

/**
 * The shipping service over NATS, unless DEMO_NATS_URL is `off`. It is started here, not by
 * start-demo.ts, because it is a Nest application (ESM-only NestJS, which the Jest tests that start
 * the HTTP services in-process cannot load). A NATS server that cannot be reached is a warning: the
 * accounts and inventory services still serve.
 */
async function startShippingOrWarn(options: DemoEnvOptions): Promise<Shipping | undefined> {
  if (!options.natsUrl) return undefined;
  try {
    return await startShipping({
      databaseUrl: options.databaseUrl,
      natsUrl: options.natsUrl,
      name: options.shippingName,
      coordinatorUrl: options.coordinatorUrl,
      secret: options.secret,
      apiKey: options.apiKey,
    });
  } catch (error) {
    process.stderr.write(
      `demo: warning: shipping not started (NATS ${options.natsUrl}): ${(error as Error).message}; set DEMO_NATS_URL=off to skip it\n`,
    );
    return undefined;
  }
}

main().catch((error: Error) => {
  process.stderr.write(`demo: failed to start: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
