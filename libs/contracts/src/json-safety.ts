/**
 * What Postgres (`jsonb`, `text`) and the coordinator's own recursive code cannot take, checked
 * before anything is written: a value that passes here stores and hashes without error.
 */

/** Deepest nesting of arrays/objects accepted in any JSON value (payloads, metadata, participant replies). */
export const MAX_JSON_DEPTH = 64;

/** Why a value cannot be stored, and where (`$` is the value itself, `$.a[2]` a member). */
export interface UnstorableValue {
  path: string;
  rule: string;
}

// U+0000 is refused by Postgres text and jsonb; a lone surrogate has no UTF-8 encoding
const NUL_OR_LONE_SURROGATE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The rule a string breaks for storage, or null. */
export function unstorableString(s: string): string | null {
  const m = NUL_OR_LONE_SURROGATE.exec(s);
  if (!m) return null;
  return m[0] === '\u0000' ? 'must not contain the NUL character (U+0000)' : 'must not contain a lone UTF-16 surrogate';
}

/**
 * The first part of `value` that cannot be stored, or null: a string (or object key) with NUL or a
 * lone surrogate, a number that is not finite or would not round-trip (`-0`, or a value JSON would
 * turn into null), nesting deeper than `maxDepth`. Iterative, so hostile depth cannot overflow the stack.
 */
export function findUnstorable(value: unknown, maxDepth = MAX_JSON_DEPTH): UnstorableValue | null {
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: value, path: '$', depth: 0 }];
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      const rule = unstorableString(v);
      if (rule) return { path, rule };
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { path, rule: 'must be a finite number' };
      if (Object.is(v, -0)) return { path, rule: 'must not be negative zero' };
    } else if (v !== null && typeof v === 'object') {
      if (depth >= maxDepth) return { path, rule: `must not nest deeper than ${maxDepth} levels` };
      if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: `${path}[${i}]`, depth: depth + 1 });
      } else {
        for (const [k, member] of Object.entries(v)) {
          const memberPath = `${path}.${k}`;
          const rule = unstorableString(k);
          if (rule) return { path: memberPath, rule: `key ${rule}` };
          stack.push({ v: member, path: memberPath, depth: depth + 1 });
        }
      }
    } else if (v !== undefined && typeof v !== 'boolean') {
      return { path, rule: `must be JSON (got a ${typeof v})` };
    }
  }
  return null;
}
