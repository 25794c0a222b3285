/**
 * An Idempotency-Key's first answer body, kept as its JSON text. The column is jsonb, which keeps
 * keys in its own order (shortest first); a repeat must get the first answer itself, so the text
 * rides in a one-key wrapper and is parsed back with its keys in their order.
 */
/** The wrapper's one key (also read in SQL: a search by Idempotency-Key looks into the answer). */
export const TEXT_KEY = 'txc:json';

/** The body as stored: its JSON text in the wrapper. */
export function storedBody(body: unknown): { [TEXT_KEY]: string } {
  return { [TEXT_KEY]: JSON.stringify(body ?? null) };
}

/** The body a stored one holds; a row stored before the wrapper (a plain jsonb body) as it is. */
export function bodyOfStored(stored: unknown): unknown {
  if (typeof stored === 'object' && stored !== null && !Array.isArray(stored)) {
    const text = (stored as Record<string, unknown>)[TEXT_KEY];
    if (typeof text === 'string' && Object.keys(stored).length === 1) return JSON.parse(text);
  }
  return stored;
}
