import { ValidationError } from '#contracts';
import { decodeCursor, encodeCursor } from './list-cursor';

const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('list cursor', () => {
  it('reads back what it wrote', () => {
    const at = new Date('2026-12-01T12:30:13.066Z');
    expect(decodeCursor(encodeCursor(at, 'order-42'))).toEqual({ createdAt: at, id: 'order-42' });
  });

  it('refuses, naming the field, any cursor no page could have given', () => {
    const at = '2026-12-01T12:30:13.066Z';
    for (const cursor of [
      '%00',
      forged([at, 'a\u0000']),
      forged([at, 'not an id']),
      forged([12345, 'a']),
      forged(['2026-12-01 12:30', 'a']),
      forged(['-005000-01-01T00:00:00.000Z', 'a']),
      forged([at, 'a', 'extra']),
      forged({ at, id: 'a' }),
    ]) {
      expect(() => decodeCursor(cursor)).toThrow(ValidationError);
    }
  });
});
