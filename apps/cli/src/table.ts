/** A cell as given: absent values print as `-`. */
export type Cell = string | number | boolean | null | undefined;

const MAX_CELL = 60;

/**
 * Control characters (C0, DEL, C1) and the bidirectional overrides: a reason or error comes from a
 * client or a participant, and printed raw it could move the cursor, clear the screen, retitle the
 * terminal or reorder what the operator reads.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `\x1b` for ESC, `\u202e` for a bidi override: seen, not acted on. */
function escaped(char: string): string {
  const code = char.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** One cell as text: `-` for nothing, one line with control characters escaped, at most `max` characters. */
export function cellText(value: Cell, max = MAX_CELL): string {
  if (value === null || value === undefined || value === '') return '-';
  const text = String(value).replace(/\s+/g, ' ').replace(UNPRINTABLE, escaped);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Rows under a header, columns padded to their widest cell and separated by two spaces. Cells are
 * cut at 60 characters except in the last column (an error, usually), which is neither cut nor
 * padded, so nothing is lost and lines carry no trailing blanks. An empty table prints `(none)`.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  if (rows.length === 0) return '(none)';
  const text = [
    headers.map((h) => h),
    ...rows.map((r) => r.map((c, i) => cellText(c, i === r.length - 1 ? Infinity : MAX_CELL))),
  ];
  const widths = headers.map((_, i) => Math.max(...text.map((r) => (r[i] ?? '').length)));
  return text
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `label: value` lines, labels padded to the widest; absent values print as `-`, long ones in full. */
export function formatFields(fields: readonly (readonly [string, Cell])[]): string {
  const width = Math.max(...fields.map(([label]) => label.length)) + 1;
  return fields.map(([label, value]) => `${`${label}:`.padEnd(width)} ${cellText(value, Infinity)}`).join('\n');
}
