import { demoOptionsFromEnv } from './demo-options';
import { registerParticipants } from './register-participants';
import { startDemo } from './start-demo';

async function main(): Promise<void> {
  const options = demoOptionsFromEnv(process.env);
  const demo = await startDemo(options);
  const stop = () => {
    demo.close().then(
      () => process.exit(0),
      (error: Error) => {
        process.stderr.write(`demo: shutdown failed: ${error.message}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);

  if (options.coordinatorUrl) {
    await registerParticipants(
      options.coordinatorUrl,
      [
        { name: 'accounts', url: demo.accountsUrl },
        { name: 'inventory', url: demo.inventoryUrl },
      ],
      options.secret,
    );
  }
  // the one stdout line scripts and tests wait for; registration is done (or warned about) by now
  process.stdout.write(`demo ready: accounts ${demo.accountsUrl} inventory ${demo.inventoryUrl}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`demo: failed to start: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
