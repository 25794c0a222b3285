import { storableText } from '#contracts';

/** Longest reason kept in the event log; the participant's whole reply is not ours to store. */
const MAX_REASON_CHARS = 500;

/**
 * Why a participant said no (or failed), in its own words, for people reading the timeline: the
 * problem+json `detail` (or `title`), an `error`/`message`/`reason` field, or a plain-text body,
 * after `HTTP <status>`. Null for a 2xx answer.
 */
export function reasonOf(httpStatus: number | null, body: unknown): string | null {
  if (httpStatus === null || httpStatus < 300) return null;
  const said = textOf(body);
  const reason = said ? `HTTP ${httpStatus}: ${said}` : `HTTP ${httpStatus}`;
  return storableText(reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS - 1)}…` : reason);
}

function textOf(body: unknown): string | null {
  if (typeof body === 'string') return body.trim() || null;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return null;
  const o = body as Record<string, unknown>;
  for (const field of ['detail', 'error', 'message', 'reason', 'title', 'text']) {
    const v = o[field];
    if (typeof v === 'string' && v.trim()) return v.trim();
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const nested = textOf(v);
      if (nested) return nested;
    }
  }
  return null;
}
