/** Query parameters of a Postgres connection URL that carry a secret (pg-connection-string reads them). */
const SECRET_PARAMS = new Set(['password', 'sslpassword']);

/**
 * A Postgres connection URL fit for a log line: its password hidden wherever pg would read one, in
 * the user info (which runs to the last `@`, as pg parses it) or as a `password` query parameter.
 * Anything that is not a URL is hidden whole up to its last `@`.
 */
export function redactDatabaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return raw.replace(/^(.*:\/\/)?.*@/s, (_all, scheme: string | undefined) => `${scheme ?? ''}***@`);
  }
  if (url.password) url.password = '***';
  for (const key of [...url.searchParams.keys()]) {
    if (SECRET_PARAMS.has(key.toLowerCase())) url.searchParams.set(key, '***');
  }
  return url.href;
}
