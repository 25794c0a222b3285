import { isIP } from 'node:net';

/**
 * Open mode lets every caller act as admin, and a browser is the one caller a stranger can steer: a
 * page whose host name the attacker re-points at this coordinator (DNS rebinding) is, for the
 * browser, on its own origin, so the cross-site check lets its writes through and it may read the
 * answers. So, in open mode, a browser is served only when its `Host` is an IP address,
 * `localhost` (or a name under it) or the address the coordinator listens on, names no attacker can
 * own. With keys configured the name does not matter: such a page has no key.
 *
 * A browser is told by any of `Origin`, `Sec-Fetch-Site`, `Referer` or a `Mozilla/` User-Agent: a
 * same-origin GET from a page on plain http carries neither of the first two (Chromium sends
 * `Sec-Fetch-*` only to trustworthy origins, `Origin` only on writes), and a page can drop its
 * `Referer` but not (in Chromium) change the User-Agent its browser sends. Scripts and servers send
 * none of them: curl, and fetch in Node (the SDKs, the CLI), which does send `Sec-Fetch-Mode: cors`,
 * so that header tells nothing.
 */
export function isRebindablePage(headers: Record<string, string | string[] | undefined>, listenHost: string): boolean {
  const agent = headers['user-agent'];
  const fromBrowser =
    headers.origin !== undefined ||
    headers['sec-fetch-site'] !== undefined ||
    headers.referer !== undefined ||
    (typeof agent === 'string' && agent.startsWith('Mozilla/'));
  const host = typeof headers.host === 'string' ? headers.host : undefined;
  if (!fromBrowser || host === undefined) return false;
  const name = hostnameOf(host);
  if (name === null) return true;
  if (name === listenHost.toLowerCase() || isIP(name) !== 0) return false;
  return name !== 'localhost' && !name.endsWith('.localhost');
}

/** The name in a `Host` header, lower-cased, without its port or an IPv6 address's brackets. */
function hostnameOf(host: string): string | null {
  try {
    const name = new URL(`http://${host}`).hostname.toLowerCase();
    return name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name.replace(/\.$/, '');
  } catch {
    return null;
  }
}
