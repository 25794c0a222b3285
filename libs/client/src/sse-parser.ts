/** One dispatched server-sent event. */
export interface SseEvent {
  /** The last event ID in force when it was dispatched (an `id:` field persists until changed); null before any. */
  id: string | null;
  /** `event:` field, `message` when absent. */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
}

/**
 * An incremental parser of `text/event-stream` (the WHATWG HTML "event stream interpretation"):
 * feed it decoded text in chunks of any size; it returns the events completed by each chunk.
 * Lines end with CRLF, LF or CR (a CR at the end of a chunk waits for the next one, which may
 * bring its LF); comment lines (`:`) are skipped; an event without data is not dispatched but its
 * `id:` still counts; `id:` values holding NUL are ignored; `retry:` takes only digits.
 */
export class SseParser {
  private buffer = '';
  private started = false;
  private data: string[] = [];
  private eventType = '';
  private idBuffer: string | null = null;
  /** The id to resume from (`Last-Event-ID`): that of the last event dispatched, or set by a dataless one. */
  lastEventId: string | null = null;
  /** The reconnection time the server asked for with `retry:`, if it did. */
  retryMs: number | undefined;

  /** Takes the next chunk of text; returns the events it completed, in order. */
  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    if (!this.started && this.buffer.length > 0) {
      this.started = true;
      if (this.buffer.charCodeAt(0) === 0xfeff) this.buffer = this.buffer.slice(1);
    }
    const events: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (c !== '\n' && c !== '\r') continue;
      // a CR at the very end may be the first half of a CRLF: decide when the next chunk comes
      if (c === '\r' && i === this.buffer.length - 1) break;
      const event = this.line(this.buffer.slice(start, i));
      if (event) events.push(event);
      if (c === '\r' && this.buffer[i + 1] === '\n') i++;
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  private line(line: string): SseEvent | null {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.idBuffer = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
    }
    return null;
  }

  private dispatch(): SseEvent | null {
    if (this.idBuffer !== null) this.lastEventId = this.idBuffer;
    const data = this.data;
    const event = this.eventType || 'message';
    this.data = [];
    this.eventType = '';
    if (data.length === 0) return null;
    return { id: this.lastEventId, event, data: data.join('\n') };
  }
}
