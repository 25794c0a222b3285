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

/** `s` with what Postgres text refuses (NUL, lone surrogates) replaced by U+FFFD: for texts we only show. */
export function storableText(s: string): string {
  return unstorableString(s)
    ? (s as string & { toWellFormed(): string }).toWellFormed().replace(/\u0000/g, '\ufffd')
    : s;
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
          const memberPath = `${path}.${printableKey(k)}`;
          const rule = unstorableString(k);
          if (rule) return { path: memberPath, rule: `key ${rule}` };
          stack.push({ v: member, path: memberPath, depth: depth + 1 });
        }
      }
    } else if (v !== undefined && v !== null && typeof v !== 'boolean') {
      return { path, rule: `must be JSON (got a ${typeof v})` };
    }
  }
  return null;
}

/** What {@link parseStorableJson} makes of a text: the value, a syntax error, or the first unstorable part. */
export type StorableJson =
  { ok: true; value: unknown } | { ok: false; syntax: string } | { ok: false; unstorable: UnstorableValue };

/**
 * Parses JSON text into a value that stores and hashes exactly as sent, or says why it cannot:
 * JSON.parse's syntax error; nesting deeper than `maxDepth`; a number JSON.parse would silently
 * change (`1e309` → Infinity, `1e-400` → 0, `-0`); a key repeated in one object (JSON.parse keeps the
 * last); a `__proto__` key or a `constructor.prototype` (prototype poisoning in JS consumers); and
 * everything {@link findUnstorable} refuses. Linear in the text and iterative: hostile depth or size
 * cannot overflow the stack.
 */
export function parseStorableJson(text: string, maxDepth = MAX_JSON_DEPTH): StorableJson {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, syntax: (error as Error).message };
  }
  const unstorable = findUnfaithfulText(text, maxDepth) ?? findUnstorable(value, maxDepth);
  return unstorable ? { ok: false, unstorable } : { ok: true, value };
}

/**
 * `$.a[2].b` as path segments (`['a', 2, 'b']`), for naming a field. A key holding `.` or `[` reads
 * ambiguously; the segments are for messages, not for lookups.
 */
export function unstorablePathSegments(path: string): (string | number)[] {
  const segments: (string | number)[] = [];
  for (const m of path.slice(1).matchAll(/\.([^.[]*)|\[(\d+)\]/g))
    segments.push(m[2] !== undefined ? Number(m[2]) : m[1]);
  return segments;
}

/** A key as it may appear in a path: NUL and lone surrogates written as JSON escapes, so the path itself stores. */
function printableKey(k: string): string {
  return unstorableString(k) ? JSON.stringify(k).slice(1, -1) : k;
}

interface TextFrame {
  array: boolean;
  /** Array: index of the current element. */
  index: number;
  /** Object: the current key, and every key seen so far. */
  key: string;
  keys: Set<string> | null;
  expectKey: boolean;
  parent: TextFrame | null;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Walks JSON text that JSON.parse accepted; the first depth, number or key it refuses, with its path. */
function findUnfaithfulText(text: string, maxDepth: number): UnstorableValue | null {
  let top: TextFrame | null = null;
  let depth = 0;
  const pathOf = (frame: TextFrame | null): string => {
    const parts: string[] = [];
    for (let f = frame; f; f = f.parent) parts.push(f.array ? `[${f.index}]` : `.${printableKey(f.key)}`);
    return `$${parts.reverse().join('')}`;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) {
      // { or [: the container is the value at the current path
      if (depth >= maxDepth) return { path: pathOf(top), rule: `must not nest deeper than ${maxDepth} levels` };
      const array = c === 0x5b;
      top = { array, index: 0, key: '', keys: array ? null : new Set(), expectKey: !array, parent: top };
      depth++;
    } else if (c === 0x7d || c === 0x5d) {
      top = top!.parent;
      depth--;
    } else if (c === 0x2c) {
      if (top!.array) top!.index++;
      else top!.expectKey = true;
    } else if (c === 0x22) {
      const start = i;
      let escaped = false;
      for (i++; text.charCodeAt(i) !== 0x22; i++) {
        if (text.charCodeAt(i) === 0x5c) {
          escaped = true;
          i++;
        }
      }
      if (top && !top.array && top.expectKey) {
        const key = escaped ? (JSON.parse(text.slice(start, i + 1)) as string) : text.slice(start + 1, i);
        top.key = key;
        top.expectKey = false;
        if (top.keys!.has(key)) return { path: pathOf(top), rule: 'is a key repeated in its object' };
        top.keys!.add(key);
        if (key === '__proto__') return { path: pathOf(top), rule: 'must not be the key "__proto__"' };
        if (key === 'prototype' && top.parent && !top.parent.array && top.parent.key === 'constructor') {
          return { path: pathOf(top), rule: 'must not be "constructor.prototype"' };
        }
      }
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const literal = NUMBER.exec(text)![0];
      i += literal.length - 1;
      const rule = unfaithfulNumber(literal);
      if (rule) return { path: pathOf(top), rule };
    }
    // whitespace, ':', true, false, null: nothing to check (letters of literals never match above)
  }
  return null;
}

/** The rule a JSON number literal breaks when JSON.parse would not give back the number written, or null. */
function unfaithfulNumber(literal: string): string | null {
  const n = Number(literal);
  if (!Number.isFinite(n)) return `must be a finite number (${literal} is beyond a 64-bit float)`;
  if (n === 0) {
    const mantissa = literal.split(/[eE]/)[0];
    if (/[1-9]/.test(mantissa)) return `must not round to zero (${literal} is below the smallest 64-bit float)`;
    if (literal.startsWith('-')) return 'must not be negative zero';
  }
  return null;
}
