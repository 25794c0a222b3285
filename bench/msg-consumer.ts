/**
 * A stand-in consumer for `npm run bench:msg`: answers 200 `{}` to every POST (a message's delivery,
 * a saga's action, a check), does no I/O, and records when it first received each transaction
 * (`process.hrtime`, the machine's monotonic clock, so the sender process can compare it with its
 * own readings). `GET /receipts` hands the receipts over and forgets them.
 * Prints `consumer ready: http://127.0.0.1:PORT`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monotonicMs } from './lib';

let receipts = new Map<string, number>();

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/receipts') {
    const body = JSON.stringify(Object.fromEntries(receipts));
    receipts = new Map();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
    return;
  }
  const at = monotonicMs();
  let raw = '';
  req.on('data', (c: Buffer) => (raw += c.toString()));
  req.on('end', () => {
    try {
      const id = (JSON.parse(raw) as { transactionId?: string }).transactionId;
      if (id && !receipts.has(id)) receipts.set(id, at);
    } catch {
      // not a participant call: answered all the same
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' });
    res.end('{}');
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`consumer ready: http://127.0.0.1:${port}\n`);
});
const stop = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
