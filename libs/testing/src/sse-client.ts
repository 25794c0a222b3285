/** One server-sent event as a test reads it. */
export interface SseEvent {
  id: string | null;
  event: string;
  data: any;
}

/**
 * Reads a server-sent event stream with fetch (so it can send `Authorization`), collecting every
 * event. `waitFor` resolves once a collected event matches; `close` cuts the connection.
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  private readonly abort = new AbortController();
  private waiters: { match: (e: SseEvent) => boolean; resolve: (e: SseEvent) => void }[] = [];
  ended: Promise<void> = Promise.resolve();
  status = 0;
  /** The answer's headers. */
  headers = new Headers();

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const client = new SseClient();
    const res = await fetch(url, { headers, signal: client.abort.signal });
    client.status = res.status;
    client.headers = res.headers;
    if (res.status !== 200 || !res.body) {
      await res.text().catch(() => undefined);
      return client;
    }
    client.ended = client.read(res.body).catch(() => undefined);
    return client;
  }

  /** The last `id:` received, of an event or of a block without data (which sets it all the same). */
  lastId: string | null = null;

  waitFor(match: (e: SseEvent) => boolean, ms = 15_000): Promise<SseEvent> {
    const found = this.events.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching event within ${ms} ms (${this.events.length} seen)`)),
        ms,
      );
      this.waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  close(): void {
    this.abort.abort();
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let text = '';
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = text.indexOf('\n\n')) >= 0) {
        const block = text.slice(0, end);
        text = text.slice(end + 2);
        this.take(block);
      }
    }
  }

  private take(block: string): void {
    let id: string | null = null;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const [field, ...rest] = line.split(':');
      const value = rest.join(':').replace(/^ /, '');
      if (field === 'id') id = this.lastId = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length === 0) return;
    const e: SseEvent = { id, event, data: JSON.parse(data.join('\n')) };
    this.events.push(e);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(e)) return true;
      w.resolve(e);
      return false;
    });
  }
}
