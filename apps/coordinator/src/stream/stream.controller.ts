import { Controller, Get, Headers, Query, Res, type BeforeApplicationShutdown } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Access } from '../access/access.decorator';
import { Permission } from '../access/permissions';
import { SECURITY_HEADERS } from '../http/security-headers';
import { ReplayedStatuses, REPLAY_SHADOW_MS } from './replayed-statuses';
import { StatusFeed, type FeedEvent } from './status-feed';

const PING_MS = 15_000;
/** A client this far behind (bytes not yet taken by the socket) is cut off; it resumes with its last id. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

/** `GET /v1/stream`: transaction status changes as server-sent events, resumable with `Last-Event-ID`. */
@Controller('v1/stream')
export class StreamController implements BeforeApplicationShutdown {
  /** How to end each open stream: a stream never ends on its own, and the server's close waits for it. */
  private readonly open = new Set<() => void>();

  constructor(private readonly feed: StatusFeed) {}

  /** The process is stopping: every stream ends now (its client reconnects, to another instance). */
  beforeApplicationShutdown(): void {
    for (const end of [...this.open]) end();
  }

  @Get()
  @Access(Permission.Read)
  async stream(
    @Headers('last-event-id') header: string | undefined,
    @Query('lastEventId') query: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const resumeFrom = parseEventId(header ?? query);
    const raw = reply.raw;
    // subscribed first: events that arrive while the backlog is sent are held, then sent after it
    const held: FeedEvent[] = [];
    let send: (e: FeedEvent) => void = (e) => held.push(e);
    const unsubscribe = this.feed.subscribe((e) => send(e));
    let closed = false;
    const ping = setInterval(() => raw.write(': ping\n\n'), PING_MS);
    const stop = () => {
      closed = true;
      this.open.delete(end);
      clearInterval(ping);
      unsubscribe();
    };
    const close = () => {
      stop();
      if (!raw.destroyed) raw.destroy();
    };
    // the response ends whole (the client sees a clean end and reconnects), then the connection goes
    const end = () => {
      if (closed) return;
      stop();
      raw.end(() => raw.destroy());
    };
    this.open.add(end);
    raw.on('close', close); // before anything is awaited: a client gone meanwhile leaves nothing behind
    reply.hijack();
    raw.writeHead(200, {
      ...SECURITY_HEADERS, // hijacked: the answer hooks that set them do not run
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    raw.write('retry: 2000\n\n');
    // a new connection is given where it stands at once (an id without data): a client that drops
    // before hearing any change resumes from here, not from whenever it reconnects
    if (!resumeFrom) raw.write(`id: ${this.feed.position()}\n\n`);
    const write = (e: FeedEvent) => {
      if (closed) return;
      if (raw.writableLength > MAX_PENDING_BYTES) return close(); // it resumes with its last id
      raw.write(`id: ${e.id}\nevent: status\ndata: ${JSON.stringify(e.change)}\n\n`);
    };
    // a replay from the log sends each transaction's status as read: live events older than it are dropped
    const replayed = new ReplayedStatuses();
    const live = (e: FeedEvent) => {
      if (!replayed.isOlder(e.change)) write(e);
    };
    if (resumeFrom) {
      const buffered = this.feed.since(resumeFrom.boot, resumeFrom.seq);
      if (buffered) buffered.forEach(write);
      else {
        const replay = (e: FeedEvent) => {
          replayed.note(e.change);
          write(e);
        };
        if (!(await this.catchUp(resumeFrom.ms, replay, () => closed))) {
          // more changed than a stream replays: the client reloads its view, then follows live
          raw.write(`event: reset\ndata: ${JSON.stringify({ reason: 'too many changes to replay; reload' })}\n\n`);
        }
        setTimeout(() => replayed.clear(), REPLAY_SHADOW_MS).unref();
      }
    }
    if (closed) return;
    held.forEach(live);
    send = live;
  }

  /** Sends the log's catch-up page by page; false when more changed than a stream replays. */
  private async catchUp(ms: number, write: (e: FeedEvent) => void, closed: () => boolean): Promise<boolean> {
    try {
      const pages = this.feed.resume(ms);
      for (;;) {
        const next = await pages.next();
        if (next.done) return !next.value.truncated;
        next.value.forEach(write);
        if (closed()) return true;
      }
    } catch {
      return false; // the log could not be read: the client reloads rather than miss changes
    }
  }
}

/** `<ms>.<boot>.<seq>` as sent in `id:`; null for anything else (the stream then starts from now). */
export function parseEventId(raw: string | undefined): { ms: number; boot: string; seq: number } | null {
  const m = /^(\d{1,15})\.([0-9a-f]{1,16})\.(\d{1,15})$/.exec(raw ?? '');
  return m ? { ms: Number(m[1]), boot: m[2], seq: Number(m[3]) } : null;
}
