/** One dispatched server-sent event. */
export interface SseMessage {
  /** The last event id seen so far (ids carry over to later events, as in the spec). */
  lastEventId: string | null;
  event: string;
  data: string;
}

/**
 * An incremental parser of `text/event-stream` (the HTML spec's rules): feed it decoded chunks in
 * any split; it answers the events completed by each chunk. Comment lines (`: ping`) are skipped;
 * an event without `data:` is not dispatched.
 */
export class SseParser {
  private pending = '';
  private data: string[] = [];
  private event = '';
  lastEventId: string | null = null;

  push(chunk: string): SseMessage[] {
    const messages: SseMessage[] = [];
    this.pending += chunk;
    for (;;) {
      const end = this.pending.search(/\r\n|\r|\n/);
      if (end < 0) break;
      // a lone \r at the end of a chunk may be the first half of \r\n: wait for the next chunk
      if (this.pending[end] === '\r' && end === this.pending.length - 1) break;
      const line = this.pending.slice(0, end);
      this.pending = this.pending.slice(end + (this.pending.startsWith('\r\n', end) ? 2 : 1));
      const message = this.line(line);
      if (message) messages.push(message);
    }
    return messages;
  }

  private line(line: string): SseMessage | null {
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
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      default:
        // retry: and unknown fields are ignored
        break;
    }
    return null;
  }

  private dispatch(): SseMessage | null {
    const message =
      this.data.length > 0
        ? { lastEventId: this.lastEventId, event: this.event || 'message', data: this.data.join('\n') }
        : null;
    this.data = [];
    this.event = '';
    return message;
  }
}
