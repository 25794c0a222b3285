import { Controller, Get, Headers, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Access } from '../access/access.decorator';
import { Permission } from '../access/permissions';
import { StatusFeed, type FeedEvent } from './status-feed';

const PING_MS = 15_000;
/** A client this far behind (bytes not yet taken by the socket) is cut off; it resumes with its last id. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

/** `GET /v1/stream`: transaction status changes as server-sent events, resumable with `Last-Event-ID`. */
@Controller('v1/stream')
export class StreamController {
  constructor(private readonly feed: StatusFeed) {}

  @Get()
  @Access(Permission.Read)
  async stream(
    @Headers('last-event-id') header: string | undefined,
    @Query('lastEventId') query: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const resumeFrom = parseEventId(header ?? query);
    // events that arrive while the backlog is read are held, then sent after it
    const held: FeedEvent[] = [];
    let live = false;
    let send: (e: FeedEvent) => void = (e) => held.push(e);
    const unsubscribe = this.feed.subscribe((e) => send(e));
    const head = this.feed.head;
    let backlog: FeedEvent[] = [];
    try {
      if (resumeFrom) {
        backlog = this.feed.since(resumeFrom.boot, resumeFrom.seq) ?? (await this.feed.catchUp(resumeFrom.ms, head));
      }
    } catch (error) {
      unsubscribe();
      throw error;
    }
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    raw.write('retry: 2000\n\n');
    const write = (e: FeedEvent) => {
      if (raw.writableLength > MAX_PENDING_BYTES) {
        close();
        return;
      }
      raw.write(`id: ${e.id}\nevent: status\ndata: ${JSON.stringify(e.change)}\n\n`);
    };
    const ping = setInterval(() => raw.write(': ping\n\n'), PING_MS);
    const close = () => {
      clearInterval(ping);
      unsubscribe();
      if (!raw.writableEnded) raw.end();
    };
    raw.on('close', close);
    for (const e of backlog) write(e);
    for (const e of held) if (e.seq > head || !resumeFrom) write(e);
    live = true;
    send = (e) => live && write(e);
  }
}

/** `<ms>.<boot>.<seq>` as sent in `id:`; null for anything else (the stream then starts from now). */
export function parseEventId(raw: string | undefined): { ms: number; boot: string; seq: number } | null {
  const m = /^(\d{1,15})\.([0-9a-f]{1,16})\.(\d{1,15})$/.exec(raw ?? '');
  return m ? { ms: Number(m[1]), boot: m[2], seq: Number(m[3]) } : null;
}
