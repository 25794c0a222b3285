import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Client } from 'pg';
import { STREAM_CHANNEL, type StatusChange, type TransactionStore } from '#store';
import { DATABASE_URL, STORE } from '../tokens';
import { RecentEvents } from './recent-events';

/** A status change with its place in this instance's feed. */
export interface FeedEvent {
  /** `<updatedAt ms>.<boot>.<seq>`: resumable here by seq, anywhere by time. */
  id: string;
  seq: number;
  change: StatusChange;
}

const BUFFER = 10_000;
/**
 * A resume from elsewhere (and the catch-up after the listening connection dropped) re-reads this
 * much before the id's time. A row's `updated_at` is when its step was made, not when it committed:
 * a write that waited in the log's queue, on a row lock or on a stalled Postgres commits later than
 * changes made after it, which a client may have heard first. The overlap is the longest such delay
 * a resume by time covers; what it re-reads is sent again (a client may see an event twice).
 */
const RESUME_OVERLAP_MS = 15_000;
/** Catch-up reads the log in pages of this many changes... */
const CATCH_UP_PAGE = 1_000;
/** ...up to this many; when more changed, a client is told to reload instead (`event: reset`). */
export const CATCH_UP_LIMIT = 100_000;
/** How often the listening connection is checked. */
const PING_MS = 30_000;

/**
 * Every transaction status change, from every instance, in commit order: the commits announce them
 * with Postgres NOTIFY (see the store), and this instance LISTENs on one dedicated connection. The
 * last BUFFER events are kept so a stream client that reconnects resumes where it left off; a gap in
 * the listening connection is filled from the log.
 */
@Injectable()
export class StatusFeed implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('StatusFeed');
  readonly boot = randomBytes(3).toString('hex');
  private seq = 0;
  private readonly recent = new RecentEvents<FeedEvent>(BUFFER);
  private readonly subscribers = new Set<(e: FeedEvent) => void>();
  private client: Client | null = null;
  private stopped = false;
  /** When the listening connection was lost (null while it is up). */
  private lostAt: Date | null = null;

  constructor(
    @Inject(DATABASE_URL) private readonly databaseUrl: string,
    @Inject(STORE) private readonly store: TransactionStore,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.listen().catch((e) => {
      this.lostAt = null; // nothing was heard yet: nothing to catch up on
      this.retryListen(e);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.client?.end().catch(() => undefined);
  }

  /** The newest seq given out. */
  get head(): number {
    return this.seq;
  }

  /** An id for "now" (`<ms>.<boot>.<head>`): resumed here after the head, elsewhere by its time. */
  position(): string {
    return `${Date.now()}.${this.boot}.${this.seq}`;
  }

  /** Calls `fn` with every event from now on; returns the unsubscribe. */
  subscribe(fn: (e: FeedEvent) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /**
   * Buffered events after `seq` of this boot, or null when the buffer no longer reaches back that
   * far (or `seq` is 0: an event of a catch-up, which is resumed by time).
   */
  since(boot: string, seq: number): FeedEvent[] | null {
    if (boot !== this.boot || seq === 0 || seq > this.seq) return null;
    return this.recent.after(seq);
  }

  /**
   * A stream client's catch-up: the current status of every transaction changed since `ms` (less an
   * overlap), page by page, as events with seq 0 (resumed by their time). When more than
   * CATCH_UP_LIMIT changed, nothing is replayed: it ends with `truncated` at once, so the client
   * reloads instead of going through changes it would reload anyway.
   */
  async *resume(ms: number): AsyncGenerator<FeedEvent[], { truncated: boolean }> {
    const since = new Date(ms - RESUME_OVERLAP_MS);
    if ((await this.store.countChangedSince(since, CATCH_UP_LIMIT + 1)) > CATCH_UP_LIMIT) return { truncated: true };
    // what changes while the pages are read comes too; past twice the limit the client reloads after all
    return yield* this.pages(since, 2 * CATCH_UP_LIMIT);
  }

  /** The changes since `ms` (less an overlap), page by page, at most CATCH_UP_LIMIT of them. */
  catchUp(ms: number): AsyncGenerator<FeedEvent[], { truncated: boolean }> {
    return this.pages(new Date(ms - RESUME_OVERLAP_MS), CATCH_UP_LIMIT);
  }

  private async *pages(since: Date, limit: number): AsyncGenerator<FeedEvent[], { truncated: boolean }> {
    let after: { at: string; id: string } | undefined;
    for (let read = 0; read < limit;) {
      const page = await this.store.changedSince(since, CATCH_UP_PAGE, after);
      yield page.map(({ change }) => ({ id: this.idOf(change, 0), seq: 0, change }));
      if (page.length < CATCH_UP_PAGE) return { truncated: false };
      read += page.length;
      const last = page[page.length - 1];
      after = { at: last.at, id: last.change.id };
    }
    // exactly `limit` changes read: truncated only if there is another
    return { truncated: (await this.store.changedSince(since, 1, after)).length > 0 };
  }

  private idOf(change: StatusChange, seq: number): string {
    return `${Date.parse(change.updatedAt)}.${this.boot}.${seq}`;
  }

  private publish(change: StatusChange): void {
    const seq = ++this.seq;
    const event: FeedEvent = { id: this.idOf(change, seq), seq, change };
    this.recent.add(seq, event);
    for (const fn of this.subscribers) fn(event);
  }

  private async listen(): Promise<void> {
    const client = new Client({ connectionString: this.databaseUrl, keepAlive: true });
    // only the connection in use counts: one given up on ends later, and that is expected
    const lost = (why: unknown) => {
      if (this.client === client) this.retryListen(why);
    };
    client.on('error', lost);
    client.on('end', () => lost('connection ended'));
    client.on('notification', (msg) => {
      if (msg.channel !== STREAM_CHANNEL || !msg.payload) return;
      try {
        this.publish(JSON.parse(msg.payload) as StatusChange);
      } catch (e) {
        this.logger.warn(`unreadable notification: ${e}`);
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${STREAM_CHANNEL}`);
    } catch (error) {
      void client.end().catch(() => undefined);
      throw error;
    }
    const gapSince = this.lostAt;
    this.client = client;
    this.lostAt = null;
    if (gapSince) {
      // changes committed while the connection was down were announced to nobody here: read them
      const since = gapSince.getTime();
      void (async () => {
        for await (const page of this.catchUp(since)) for (const e of page) this.publish(e.change);
      })().catch((e) =>
        this.logger.warn(`catching up on status changes since ${new Date(since).toISOString()} failed: ${e}`),
      );
    }
    this.watch(client);
  }

  /**
   * A connection dropped without a reset (a NAT, a firewall) raises no error: a periodic query
   * finds it, and a reconnect follows.
   */
  private watch(client: Client): void {
    const timer = setInterval(() => {
      if (this.client !== client) return clearInterval(timer);
      const timeout = new Promise((_, reject) =>
        setTimeout(() => reject(new Error('no answer in 10 s')), 10_000).unref(),
      );
      Promise.race([client.query('SELECT 1'), timeout]).catch((e) => {
        clearInterval(timer);
        if (this.client === client) this.retryListen(`the listening connection did not answer: ${e}`);
      });
    }, PING_MS);
    timer.unref();
  }

  private retryListen(error: unknown): void {
    if (this.stopped || this.lostAt) return;
    this.logger.warn(`listening for status changes failed (${error}); reconnecting`);
    const old = this.client;
    this.client = null;
    void old?.end().catch(() => undefined);
    this.lostAt = new Date();
    const attempt = (delay: number) =>
      setTimeout(() => {
        if (this.stopped) return;
        this.listen().catch(() => attempt(Math.min(delay * 2, 5_000)));
      }, delay).unref();
    attempt(250);
  }
}
