/**
 * A stand-in for the demo accounts service, used only when dist/apps/demo/src/main.js does not
 * exist (or BENCH_PARTICIPANT=stand-in): answers 200 `{}` to every request, touches no database.
 * Figures measured against it are NOT the benchmark's figures; run.ts marks them as such.
 * Prints `demo ready: accounts http://127.0.0.1:PORT` like the demo.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' });
    res.end('{}');
  });
});
server.keepAliveTimeout = 30_000;
server.listen(Number(process.env.ACCOUNTS_PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`demo ready: accounts http://127.0.0.1:${port} (stand-in)\n`);
});
const stop = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
