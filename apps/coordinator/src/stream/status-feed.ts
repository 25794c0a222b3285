import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Client } from 'pg';
import { STREAM_CHANNEL, type StatusChange, type TransactionStore } from '#store';
import { DATABASE_URL, STORE } from '../tokens';

/** A status change with its place in this instance's feed. */
export interface FeedEvent {
  /** `<updatedAt ms>.<boot>.<seq>`: resumable here by seq, anywhere by time. */
  id: string;
  seq: number;
  change: StatusChange;
}

const BUFFER = 10_000;
/** A resume from elsewhere re-reads this much before the id's time, so nothing committed out of order is missed. */
const OVERLAP_MS = 1_000;
const CATCH_UP_LIMIT = 10_000;

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
  private readonly buffer: FeedEvent[] = [];
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

  /** Calls `fn` with every event from now on; returns the unsubscribe. */
  subscribe(fn: (e: FeedEvent) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /** Buffered events after `seq` of this boot, or null when the buffer no longer reaches back that far. */
  since(boot: string, seq: number): FeedEvent[] | null {
    if (boot !== this.boot || seq > this.seq) return null;
    const oldest = this.buffer[0]?.seq ?? this.seq + 1;
    if (seq < oldest - 1) return null;
    return this.buffer.filter((e) => e.seq > seq);
  }

  /** The current status of every transaction changed since `ms` (less an overlap), as events at `headSeq`. */
  async catchUp(ms: number, headSeq: number): Promise<FeedEvent[]> {
    const changes = await this.store.changedSince(new Date(ms - OVERLAP_MS), CATCH_UP_LIMIT);
    return changes.map((change) => ({ id: this.idOf(change, headSeq), seq: headSeq, change }));
  }

  private idOf(change: StatusChange, seq: number): string {
    return `${Date.parse(change.updatedAt)}.${this.boot}.${seq}`;
  }

  private publish(change: StatusChange): void {
    const seq = ++this.seq;
    const event: FeedEvent = { id: this.idOf(change, seq), seq, change };
    this.buffer.push(event);
    if (this.buffer.length > BUFFER) this.buffer.splice(0, this.buffer.length - BUFFER);
    for (const fn of this.subscribers) fn(event);
  }

  private async listen(): Promise<void> {
    const client = new Client({ connectionString: this.databaseUrl });
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
      const since = new Date(gapSince.getTime() - OVERLAP_MS);
      await this.store
        .changedSince(since, CATCH_UP_LIMIT)
        .then((changes) => changes.forEach((c) => this.publish(c)))
        .catch((e) => this.logger.warn(`catching up on status changes since ${since.toISOString()} failed: ${e}`));
    }
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
