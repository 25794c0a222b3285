import { SseParser } from './sse-parser';

describe('SseParser', () => {
  const stream =
    ': ping\n\n' +
    'id: 1764440000123.k3f9.42\nevent: status\ndata: {"id":"order-17","status":"aborted"}\n\n' +
    'id: 1764440000124.k3f9.43\r\nevent: status\r\ndata: {"id":"order-18",\r\ndata: "status":"committed"}\r\n\r\n';

  it('reads ids, event names and multi-line data, and skips comments', () => {
    const messages = new SseParser().push(stream);
    expect(messages).toEqual([
      { lastEventId: '1764440000123.k3f9.42', event: 'status', data: '{"id":"order-17","status":"aborted"}' },
      { lastEventId: '1764440000124.k3f9.43', event: 'status', data: '{"id":"order-18",\n"status":"committed"}' },
    ]);
  });

  it('gives the same events whatever the chunk boundaries, \\r\\n split included', () => {
    const whole = new SseParser().push(stream);
    for (let size = 1; size <= 7; size++) {
      const parser = new SseParser();
      const messages = [];
      for (let i = 0; i < stream.length; i += size) messages.push(...parser.push(stream.slice(i, i + size)));
      expect(messages).toEqual(whole);
    }
  });

  it('keeps the last id for reconnecting, dispatches nothing without data, and calls an unnamed event message', () => {
    const parser = new SseParser();
    expect(parser.push('id: 7\n\n')).toEqual([]);
    expect(parser.lastEventId).toBe('7');
    expect(parser.push('data:x\n\n')).toEqual([{ lastEventId: '7', event: 'message', data: 'x' }]);
    expect(parser.push('data: half')).toEqual([]);
  });
});
