import { createHash } from 'node:crypto';

/** A digest of a request that is stable under key order, for "same body?" checks. */
export function requestHash(...parts: unknown[]): string {
  return createHash('sha256').update(canonicalJson(parts)).digest('base64url');
}

/**
 * The hash an `Idempotency-Key` is claimed with: the request's, and the caller's key name. The same
 * key from another caller, same body or not, is then a different request (422), never the first
 * caller's answer: two services whose keys collide (order numbers, say) each learn it, rather than
 * one being handed the other's transaction as its own.
 */
export function keyedRequestHash(caller: string, ...parts: unknown[]): string {
  return requestHash({ caller }, ...parts);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
