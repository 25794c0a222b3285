/** A JSON value folded under a summary line; opened on click. */
export function JsonDetails({ summary, value, open }: { summary: string; value: unknown; open?: boolean }) {
  if (value === null || value === undefined) return <span className="muted">{summary}: none</span>;
  return (
    <details className="json" open={open}>
      <summary>{summary}</summary>
      <pre>{JSON.stringify(value, null, 2)}</pre>
    </details>
  );
}
