import { Limits, ValidationError } from '#contracts';

/** The list's keyset cursor: the last item's creation time and id, as base64url JSON. */
export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([createdAt.toISOString(), id])).toString('base64url');
}

/** A cursor as {@link encodeCursor} writes it, or 422: a forged one must not reach the query. */
export function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(decoded) || decoded.length !== 2) throw new Error('shape');
    const [at, id] = decoded as unknown[];
    if (typeof at !== 'string' || typeof id !== 'string' || !Limits.idPattern.test(id)) throw new Error('shape');
    const createdAt = new Date(at);
    // as toISOString writes a time of years 0000-9999 (a year outside is no Postgres timestamptz)
    if (!/^\d{4}-/.test(at) || Number.isNaN(createdAt.getTime()) || createdAt.toISOString() !== at) {
      throw new Error('shape');
    }
    return { createdAt, id };
  } catch {
    throw new ValidationError('cursor is invalid', [
      { field: 'cursor', rule: 'must be a nextCursor from a previous page' },
    ]);
  }
}
