/** A cell as given: absent values print as `-`. */
export type Cell = string | number | boolean | null | undefined;

const MAX_CELL = 60;

/** One cell as text: `-` for nothing, one line, at most 60 characters. */
export function cellText(value: Cell): string {
  if (value === null || value === undefined || value === '') return '-';
  const text = String(value).replace(/\s+/g, ' ');
  return text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}…` : text;
}

/**
 * Rows under a header, columns padded to their widest cell and separated by two spaces; the last
 * column is not padded, so lines carry no trailing blanks. An empty table prints `(none)`.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  if (rows.length === 0) return '(none)';
  const text = [headers.map((h) => h), ...rows.map((r) => r.map(cellText))];
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

/** `label: value` lines, labels padded to the widest; absent values print as `-`. */
export function formatFields(fields: readonly (readonly [string, Cell])[]): string {
  const width = Math.max(...fields.map(([label]) => label.length)) + 1;
  return fields.map(([label, value]) => `${`${label}:`.padEnd(width)} ${cellText(value)}`).join('\n');
}
