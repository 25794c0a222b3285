import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP proxy for fault tests, put between the coordinator and Postgres: `cutAll` drops every
 * connection at once (a commit's acknowledgement may be lost on its way back: the statement
 * committed, the client never hears it), `pause` holds every byte in both directions and every new
 * connection (a network partition; nothing is refused, everything waits), `resume` lets it all through;
 * `down` cuts everything and closes every new connection at once (the target stopped) until `up`;
 * `holdWhenSent` partitions one connection at one statement (it stays open, its bytes held);
 * `freezeOpen` silences every open connection while new ones pass (a dropped NAT flow); `silenceAll`
 * silences new ones too, until `heal`.
 * Started with `splitReplies`, it hands each reply of the target over in two reads, its last Postgres
 * message (a ReadyForQuery) 50 ms after the rest, as a slow network does now and then.
 */
export class TcpProxy {
  private readonly pairs = new Set<[Socket, Socket]>();
  private paused = false;
  private refusing = false;
  private readonly waiting: (() => void)[] = [];
  private holdOn: string | null = null;
  private blackholing = false;
  private readonly held: (() => void)[] = [];
  /** Connections cut so far. */
  cuts = 0;

  private constructor(
    private readonly server: Server,
    private readonly target: { host: string; port: number },
    private readonly splitReplies: boolean,
  ) {}

  static async start(
    target: { host: string; port: number },
    options: { splitReplies?: boolean } = {},
  ): Promise<TcpProxy> {
    let proxy!: TcpProxy;
    const server = createServer((client) => proxy.accept(client));
    proxy = new TcpProxy(server, target, options.splitReplies ?? false);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `url` (a postgres:// URL of the target) rewritten to go through this proxy. */
  through(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  /** Destroys every open connection, both sides. */
  cutAll(): number {
    const n = this.pairs.size;
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    this.cuts += n;
    return n;
  }

  pause(): void {
    this.paused = true;
    for (const [a, b] of this.pairs) {
      a.pause();
      b.pause();
    }
  }

  resume(): void {
    this.paused = false;
    for (const go of this.held.splice(0)) go();
    for (const [a, b] of this.pairs) {
      a.resume();
      b.resume();
    }
    for (const go of this.waiting.splice(0)) go();
  }

  /**
   * The next connection whose client sends bytes containing `text` (a statement) is partitioned
   * there: those bytes and everything after them, both ways, are held until {@link resume}, while
   * every other connection goes on. A client inside a transaction is then "idle in transaction" to
   * Postgres, holding its locks, as across a real partition.
   */
  holdWhenSent(text: string): void {
    this.holdOn = text;
  }

  /**
   * Every connection open now goes silent, as a flow that a NAT or a firewall dropped: its bytes are
   * held both ways (the TCP connection itself stays up, and nothing is refused or reset) until
   * {@link resume}, while new connections pass as before. Returns how many went silent.
   */
  freezeOpen(): number {
    for (const [a, b] of this.pairs) {
      a.pause();
      b.pause();
    }
    return this.pairs.size;
  }

  /**
   * Every connection, open now or opened until {@link heal}, goes silent as in {@link freezeOpen}:
   * a new one is accepted (its handshake completes) and then hears nothing, as behind a balancer
   * whose backend is gone. Those stay silent for good; after `heal`, new connections pass again.
   * Returns how many open connections went silent.
   */
  silenceAll(): number {
    this.blackholing = true;
    return this.freezeOpen();
  }

  /** New connections pass again (those silenced stay so). */
  heal(): void {
    this.blackholing = false;
  }

  /** Whether the hold set by {@link holdWhenSent} still waits for its statement (false once it holds one). */
  get holdArmed(): boolean {
    return this.holdOn !== null;
  }

  /**
   * The target goes away, as a server that stopped: every connection is cut and new ones are closed
   * at once, until {@link up}. (`pause` is the other failure: a partition, where nothing is refused.)
   */
  down(): number {
    this.refusing = true;
    return this.cutAll();
  }

  /** New connections reach the target again. */
  up(): void {
    this.refusing = false;
  }

  async close(): Promise<void> {
    this.resume();
    this.cutAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private accept(client: Socket): void {
    client.on('error', () => undefined);
    if (this.refusing) {
      client.destroy();
      return;
    }
    if (this.paused) {
      client.pause();
      this.waiting.push(() => this.accept(client));
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const forget = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', forget);
    upstream.on('close', forget);
    client.on('data', (chunk: Buffer) => {
      if (this.holdOn !== null && chunk.includes(this.holdOn)) {
        this.holdOn = null;
        client.pause();
        upstream.pause();
        this.held.push(() => upstream.write(chunk));
        return;
      }
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => !this.paused && client.resume());
      }
    });
    client.on('end', () => upstream.end());
    if (this.splitReplies) splitEachReply(upstream, client);
    else upstream.pipe(client);
    if (this.blackholing) {
      client.pause();
      upstream.pause();
      return;
    }
    client.resume();
  }
}

/** ReadyForQuery: 'Z', its length (5) and the transaction status; every reply of Postgres ends with one. */
const READY_FOR_QUERY_BYTES = 6;

/**
 * Forwards `from` to `to`, each chunk in two writes 50 ms apart, the last message (ReadyForQuery) in
 * the second: the client reads what came before it (an ErrorResponse, say) in an earlier read.
 */
function splitEachReply(from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (chunk.length <= READY_FOR_QUERY_BYTES) {
      to.write(chunk);
      return;
    }
    to.write(chunk.subarray(0, -READY_FOR_QUERY_BYTES));
    from.pause();
    setTimeout(() => {
      to.write(chunk.subarray(-READY_FOR_QUERY_BYTES));
      from.resume();
    }, 50);
  });
  from.on('end', () => to.end());
}
