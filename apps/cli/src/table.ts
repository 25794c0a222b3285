/** A cell as given: absent values print as `-`. */
export type Cell = string | number | boolean | null | undefined;

const MAX_CELL = 60;

/** One cell as text: `-` for nothing, one line, at most `max` characters. */
export function cellText(value: Cell, max = MAX_CELL): string {
  if (value === null || value === undefined || value === '') return '-';
  const text = String(value).replace(/\s+/g, ' ');
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
