/**
 * A stand-in for the demo accounts service, used only when dist/apps/demo/src/main.js does not
 * exist (or BENCH_PARTICIPANT=stand-in): answers 200 `{}` to every request, touches no database,
 * except 409 (a business no) to a forward phase for the account `no-such-account`.
 * Figures measured against it are NOT the benchmark's figures; run.ts marks them as such.
 * Prints `demo ready: accounts http://127.0.0.1:PORT` like the demo.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    // like the demo, an account it does not know is a business no (of a forward phase)
    const no =
      /\/(action|try|prepare|can-commit)$/.test(req.url ?? '') && Buffer.concat(chunks).includes('"no-such-account"');
    const body = no ? '{"error":"unknown account"}' : '{}';
    res.writeHead(no ? 409 : 200, { 'content-type': 'application/json', 'content-length': String(body.length) });
    res.end(body);
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
