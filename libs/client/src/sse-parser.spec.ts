import fc from 'fast-check';
import { SseParser, type SseEvent } from './sse-parser';

const STREAM =
  'retry: 2000\n\n' +
  'id: 1.a.1\nevent: status\ndata: {"id":"t1","status":"running"}\n\n' +
  ': ping\n\n' +
  'id: 1.a.2\r\nevent: status\r\ndata: {"id":"t1",\r\ndata: "status":"committed"}\r\n\r\n' +
  'data: no id, no type\r\r\n';

function parseAll(chunks: string[]): { events: SseEvent[]; parser: SseParser } {
  const parser = new SseParser();
  const events = chunks.flatMap((c) => parser.push(c));
  return { events, parser };
}

describe('SseParser', () => {
  it('reads ids, types, multi-line data, comments, retry and every line ending', () => {
    const { events, parser } = parseAll([STREAM]);
    expect(events).toEqual([
      { id: '1.a.1', event: 'status', data: '{"id":"t1","status":"running"}' },
      { id: '1.a.2', event: 'status', data: '{"id":"t1",\n"status":"committed"}' },
      // an id persists until the server sends another one
      { id: '1.a.2', event: 'message', data: 'no id, no type' },
    ]);
    expect(parser.retryMs).toBe(2000);
    expect(parser.lastEventId).toBe('1.a.2');
  });

  it('gives the same events however the text is cut into chunks', () => {
    const whole = parseAll([STREAM]).events;
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: STREAM.length - 1 }), { maxLength: 12 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), STREAM.length];
        const chunks = points.slice(1).map((end, i) => STREAM.slice(points[i], end));
        expect(parseAll(chunks).events).toEqual(whole);
      }),
    );
  });

  it('waits for the next chunk before taking a CR as a whole line end', () => {
    const parser = new SseParser();
    expect(parser.push('data: a\r')).toEqual([]);
    expect(parser.push('\n\r\n')).toEqual([{ id: null, event: 'message', data: 'a' }]);
  });

  it('does not dispatch an event without data, but keeps its id; ignores ids with NUL and bad retries', () => {
    const parser = new SseParser();
    expect(parser.push('id: 7\n\nid: x\0y\nretry: 1e3\ndata\n\n')).toEqual([{ id: '7', event: 'message', data: '' }]);
    expect(parser.lastEventId).toBe('7');
    expect(parser.retryMs).toBeUndefined();
  });

  it('drops a byte order mark at the start of the stream only', () => {
    expect(parseAll(['\ufeffda', 'ta: x\n\n']).events.map((e) => e.data)).toEqual(['x']);
    // a later one is not at the start of the stream: it makes the field name unknown, in any chunk
    expect(parseAll(['\ufeffdata: x\n\n', '\ufeffdata: y\n\n']).events.map((e) => e.data)).toEqual(['x']);
  });
});
