/** `2026-11-29 18:13:20.123` in the browser's time zone; '—' for nothing. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}

/** `850 ms`, `12.4 s`, `3 min 5 s`, `2 h 10 min`; '—' for nothing. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  // each bound is where the unit's rounding would reach the next unit ("60 s" is "1 min 0 s")
  if (ms < 999.5) return `${Math.round(ms)} ms`;
  if (ms < 9_995) return `${(ms / 1_000).toFixed(2)} s`;
  if (ms < 59_950) return `${(ms / 1_000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1_000);
  if (seconds < 3_600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  const minutes = Math.round(ms / 60_000);
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Milliseconds from `from` to `to` (or now). */
export function millisBetween(from: string, to?: string | null): number {
  return (to ? Date.parse(to) : Date.now()) - Date.parse(from);
}

/** `12.5 %`; '—' for null. */
export function formatPercent(share: number | null | undefined): string {
  return share === null || share === undefined ? '—' : `${(share * 100).toFixed(share < 0.1 ? 1 : 0)} %`;
}

/** A bucket's length as the chart's axis says it: `minute`, `5 min`, `15 min` (seconds below a minute). */
export function bucketName(seconds: number): string {
  if (seconds === 60) return 'minute';
  return seconds >= 60 ? `${seconds / 60} min` : `${seconds} s`;
}
