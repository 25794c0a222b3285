import { utf8Prefix } from './utf8-prefix';

describe('utf8Prefix', () => {
  it('keeps text within the limit whole', () => {
    expect(utf8Prefix(Buffer.from('héllo'), 6)).toBe('héllo');
  });

  it('cuts before a character the limit falls inside, never into U+FFFD', () => {
    const emoji = '😀'.repeat(3); // 4 bytes each
    for (let limit = 0; limit <= 12; limit++) {
      const text = utf8Prefix(Buffer.from(emoji), limit);
      expect(text).toBe('😀'.repeat(Math.floor(limit / 4)));
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(limit);
    }
    expect(utf8Prefix(Buffer.from('aé'), 2)).toBe('a'); // é is 2 bytes
  });
});
