/**
 * The coordinator's base URL as the SDKs append `/v1/...` to it: an http(s) URL without trailing
 * slashes. A base given with the API's `/v1` (a natural mistake: every path in the docs starts with
 * it) is taken without it; before, every request went to `/v1/v1/...` and its 404 was read as "not
 * registered yet" or "no decision", retried for good. Throws a TypeError naming the option for
 * anything that is not an http(s) URL, so a start fails at once rather than retrying a request that
 * can never be sent.
 */
export function coordinatorBaseUrl(url: string, option = 'coordinatorUrl'): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(
      `${option} must be the coordinator's http(s) base URL, e.g. http://127.0.0.1:7070; got ${JSON.stringify(url)}`,
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TypeError(`${option} must be an http(s) URL, e.g. http://127.0.0.1:7070; got ${JSON.stringify(url)}`);
  }
  if (parsed.search || parsed.hash) {
    throw new TypeError(`${option} must not carry a query or a fragment; got ${JSON.stringify(url)}`);
  }
  return parsed.toString().replace(/\/+$/, '').replace(/\/v1$/, '');
}
