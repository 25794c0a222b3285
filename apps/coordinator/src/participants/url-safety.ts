import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { Limits, Transport, TRANSPORT_SCHEMES } from '#contracts';

/** Host names that answer as a cloud metadata service wherever they resolve. */
const METADATA_HOSTS = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'metadata.azure.com',
]);

type Rule = { net: string; bits: number; reason: string };

const UNSPECIFIED = 'is unspecified';
const LINK_LOCAL = 'is link-local';
const METADATA = 'is a cloud metadata service';
const NOT_UNICAST = 'is multicast or broadcast';

/**
 * Addresses no participant may have, whatever PARTICIPANT_URL_ALLOWLIST says. Loopback and the
 * private ranges are not here: participants often run next to the coordinator.
 */
const FORBIDDEN_V4: Rule[] = [
  { net: '0.0.0.0', bits: 8, reason: UNSPECIFIED }, // "this network": Linux connects 0.0.0.0 to the local host
  { net: '169.254.0.0', bits: 16, reason: LINK_LOCAL }, // AWS, GCP, Azure, OCI, DigitalOcean metadata at .169.254
  { net: '100.100.100.200', bits: 32, reason: METADATA }, // Alibaba Cloud
  { net: '168.63.129.16', bits: 32, reason: METADATA }, // Azure wireserver
  { net: '192.0.0.192', bits: 32, reason: METADATA }, // Oracle Cloud Classic
  { net: '224.0.0.0', bits: 4, reason: NOT_UNICAST },
  { net: '255.255.255.255', bits: 32, reason: NOT_UNICAST },
];
const FORBIDDEN_V6: Rule[] = [
  { net: '::', bits: 128, reason: UNSPECIFIED },
  { net: 'fe80::', bits: 10, reason: LINK_LOCAL },
  { net: 'fd00:ec2::254', bits: 128, reason: METADATA }, // AWS over IPv6
  { net: 'ff00::', bits: 8, reason: NOT_UNICAST },
  // RFC 8215 local-use NAT64: the operator picks the prefix length, so where the IPv4 sits is unknown
  { net: '64:ff9b:1::', bits: 48, reason: 'is local-use NAT64, whose IPv4 target cannot be checked' },
];

const blockOf = (family: 'ipv4' | 'ipv6', rule: Rule) => {
  const list = new BlockList();
  list.addSubnet(rule.net, rule.bits, family);
  return { list, reason: rule.reason };
};
const V4 = FORBIDDEN_V4.map((r) => blockOf('ipv4', r));
const V6 = FORBIDDEN_V6.map((r) => blockOf('ipv6', r));

/** Resolves a host name to its addresses (every family). */
export type Resolver = (host: string) => Promise<string[]>;

/** The system resolver (getaddrinfo, as `net.connect` would use it). */
export const systemResolver: Resolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * Why `address` (IPv4 or IPv6 text) may never be a participant's, or null. IPv6 addresses that
 * carry an IPv4 address (IPv4-mapped, IPv4-translated, IPv4-compatible, NAT64 64:ff9b::/96, 6to4, Teredo) are
 * refused when the IPv4 address they carry is.
 */
export function forbiddenAddress(address: string): string | null {
  const family = isIP(address);
  if (family === 4) return ruleOf(V4, address, 'ipv4');
  if (family !== 6) return `"${address}" is not an IP address`;
  const own = ruleOf(V6, address, 'ipv6');
  if (own) return own;
  for (const { ipv4, via } of carriedIpv4(ipv6Groups(address))) {
    const rule = ruleOf(V4, ipv4, 'ipv4');
    if (rule) return `address ${address} carries ${ipv4} (${via}), which ${rule.replace(/^address \S+ /, '')}`;
  }
  return null;
}

function ruleOf(rules: typeof V4, address: string, family: 'ipv4' | 'ipv6'): string | null {
  const hit = rules.find((r) => r.list.check(address, family));
  return hit ? `address ${address} ${hit.reason}` : null;
}

/** The eight 16-bit groups of a valid IPv6 address (with or without a trailing dotted quad). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase();
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number);
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const parse = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const front = parse(head);
  const back = parse(tail);
  return tail === undefined ? front : [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
}

function carriedIpv4(g: number[]): { ipv4: string; via: string }[] {
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const found: { ipv4: string; via: string }[] = [];
  if (zero(0, 5) && g[5] === 0xffff) found.push({ ipv4: v4(g[6], g[7]), via: 'IPv4-mapped' });
  // ::ffff:0:0/96 (RFC 2765, SIIT): a translator reaches the IPv4 address it carries
  if (zero(0, 4) && g[4] === 0xffff && g[5] === 0) found.push({ ipv4: v4(g[6], g[7]), via: 'IPv4-translated' });
  // ::/96 minus :: and ::1, which are themselves (unspecified, loopback)
  if (zero(0, 6) && (g[6] !== 0 || g[7] > 1)) found.push({ ipv4: v4(g[6], g[7]), via: 'IPv4-compatible' });
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6)) found.push({ ipv4: v4(g[6], g[7]), via: 'NAT64' });
  if (g[0] === 0x2002) found.push({ ipv4: v4(g[1], g[2]), via: '6to4' });
  if (g[0] === 0x2001 && g[1] === 0) {
    found.push({ ipv4: v4(g[2], g[3]), via: 'Teredo server' });
    found.push({ ipv4: v4(~g[6] & 0xffff, ~g[7] & 0xffff), via: 'Teredo client' });
  }
  return found;
}

const HOST_NAME = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/;

type AllowListEntry =
  | { kind: 'host'; host: string }
  | { kind: 'address'; address: string; family: 'ipv4' | 'ipv6' }
  | { kind: 'net'; address: string; family: 'ipv4' | 'ipv6'; bits: number }
  | { kind: 'bad'; problem: string };

/** The entries of a PARTICIPANT_URL_ALLOWLIST: host names, IP addresses and CIDR blocks (IPv6 with or without brackets). */
function allowListEntries(spec: string | undefined): AllowListEntry[] {
  return (spec ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)
    .map(allowListEntry);
}

function allowListEntry(e: string): AllowListEntry {
  const [rawAddr, bits, extra] = e.split('/');
  const address = rawAddr.replace(/^\[(.*)\]$/, '$1');
  const version = isIP(address);
  const family = version === 6 ? 'ipv6' : 'ipv4';
  if (bits === undefined) {
    if (version) return { kind: 'address', address, family };
    const asUrlReadsIt = HOST_NAME.test(e) ? hostAsUrlReadsIt(e) : null;
    if (asUrlReadsIt === bareHost(e)) return { kind: 'host', host: asUrlReadsIt };
    // a URL reads some names as IPv4 addresses (`10.1`, `0x7f.1`): the entry, as written, would match nothing
    if (asUrlReadsIt !== null)
      return { kind: 'bad', problem: `"${e}" is read by a URL as ${asUrlReadsIt}: write that address instead` };
    return { kind: 'bad', problem: `"${e}" is not a host name, an IP address or a CIDR block` };
  }
  if (!version || extra !== undefined) {
    return { kind: 'bad', problem: `"${e}": a CIDR block is an IP address, "/" and a prefix length` };
  }
  const max = version === 6 ? 128 : 32;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) {
    return { kind: 'bad', problem: `"${e}": the prefix length must be 0-${max}` };
  }
  return { kind: 'net', address, family, bits: Number(bits) };
}

/** The host of `http://<name>/` as a URL reads it, or null when no URL can carry the name. */
function hostAsUrlReadsIt(name: string): string | null {
  try {
    return bareHost(new URL(`http://${name}/`).hostname);
  } catch {
    return null;
  }
}

/** What is wrong with a PARTICIPANT_URL_ALLOWLIST, one line per bad entry: checked at start. */
export function allowListProblems(spec: string | undefined): string[] {
  const entries = allowListEntries(spec);
  // a list that names nothing would allow every host, the opposite of what setting it asks for
  if (spec !== undefined && entries.length === 0)
    return ['names no host, address or CIDR block (unset it to allow any host)'];
  return entries.flatMap((e) => (e.kind === 'bad' ? [e.problem] : []));
}

/** An allow-list from PARTICIPANT_URL_ALLOWLIST (its entries checked at start, by {@link allowListProblems}). */
export class UrlAllowList {
  private readonly hosts = new Set<string>();
  private readonly nets = new BlockList();
  private readonly empty: boolean;

  constructor(spec: string | undefined) {
    const entries = allowListEntries(spec);
    this.empty = entries.length === 0;
    for (const e of entries) {
      if (e.kind === 'net') this.nets.addSubnet(e.address, e.bits, e.family);
      else if (e.kind === 'address') this.nets.addAddress(e.address, e.family);
      else if (e.kind === 'host') this.hosts.add(e.host);
    }
  }

  /** True when no list is set, the host is named in it, or every address is inside it. */
  allows(host: string, addresses: string[]): boolean {
    if (this.empty || this.hosts.has(host)) return true;
    return addresses.length > 0 && addresses.every((a) => this.nets.check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4'));
  }
}

/** A URL as it will be stored and called, or why it is refused. */
export type NormalisedUrl = { url: string; host: string; refusal: null } | { url: null; host: null; refusal: string };

const refuse = (refusal: string) => ({ url: null, host: null, refusal }) as const;

/**
 * Parses a participant URL the way undici (or the broker client) will (WHATWG) and returns its
 * serialisation, refusing every spelling that another parser could read as a different host:
 * backslashes, whitespace and control characters, non-ASCII, credentials or a bare `@`,
 * percent-encoding in the host, a missing `//`, an empty host, a query or fragment (even an empty
 * one). `transport` picks the schemes accepted: http(s) for HTTP, the broker's own for the others.
 */
export function normaliseParticipantUrl(raw: string, transport: Transport = Transport.Http): NormalisedUrl {
  const schemes = TRANSPORT_SCHEMES[transport];
  const what = transport === Transport.Http ? 'an absolute http(s) URL' : `a ${schemes.join(' or ')} URL`;
  if (raw.includes('\\')) return refuse('must not contain backslashes');
  if (/[\u0000-\u0020\u007f]/.test(raw)) return refuse('must not contain whitespace or control characters');
  if (/[^\u0000-\u007f]/.test(raw)) return refuse('must be ASCII (international names in punycode)');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(raw);
  if (scheme && !schemes.includes(scheme[1].toLowerCase())) {
    return refuse(transport === Transport.Http ? 'must use http or https' : `must use ${schemes.join(' or ')}`);
  }
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(raw);
  if (!authority) return refuse(`must be ${what}`);
  if (authority[1].includes('@')) return refuse('must not carry credentials');
  if (authority[1].includes('%')) return refuse('host must not be percent-encoded');
  if (authority[1] === '' || authority[1].startsWith(':')) return refuse('must name a host');
  if (/[?#]/.test(raw)) return refuse('must not carry a query or fragment');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse(`must be ${what}`);
  }
  if (url.username || url.password) return refuse('must not carry credentials');
  if (!url.hostname) return refuse('must name a host');
  // the limit holds for what is stored, shown, called and names an instance: the serialisation
  if (url.href.length > Limits.maxParticipantUrlLength) {
    return refuse(
      `must be at most ${Limits.maxParticipantUrlLength} characters as stored (percent-encoded: ${url.href.length})`,
    );
  }
  return { url: url.href, host: bareHost(url.hostname), refusal: null };
}

/** `[::1]` → `::1`, `Name.Example.` → `name.example`. */
function bareHost(hostname: string): string {
  return hostname
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.+$/, '')
    .toLowerCase();
}

/** Thrown at connect time when a participant's host is, or resolves to, an address it may not have. */
export class ParticipantAddressRefusedError extends Error {
  readonly code = 'TXC_PARTICIPANT_ADDRESS_REFUSED';
  constructor(reason: string) {
    super(`connection refused by the participant URL guard: ${reason}`);
    this.name = 'ParticipantAddressRefusedError';
  }
}

export interface ParticipantUrlGuardOptions {
  /** PARTICIPANT_URL_ALLOWLIST; unset allows every address that is not forbidden. */
  allowList?: string;
  /** Default: the system resolver. */
  resolve?: Resolver;
}

/**
 * The participant URL guard, applied twice: at registration to the URL (normalised, then its host
 * and every address it resolves to), and at connect time to the addresses the host resolves to
 * then, which are the only ones connected to. A name that changes its answer after registration
 * (DNS rebinding) is therefore never connected to a forbidden or unallowed address.
 */
export class ParticipantUrlGuard {
  private readonly allowList: UrlAllowList;
  private readonly resolve: Resolver;

  constructor(options: ParticipantUrlGuardOptions = {}) {
    this.allowList = new UrlAllowList(options.allowList);
    this.resolve = options.resolve ?? systemResolver;
  }

  /** Registration: the normalised URL to store, or why the URL is refused (a broker URL for a broker transport). */
  async check(
    raw: string,
    transport: Transport = Transport.Http,
  ): Promise<{ url: string; refusal: null } | { url: null; refusal: string }> {
    const parsed = normaliseParticipantUrl(raw, transport);
    if (parsed.refusal !== null) return { url: null, refusal: parsed.refusal };
    const verdict = await this.addressesOf(parsed.host);
    return 'refusal' in verdict ? { url: null, refusal: verdict.refusal } : { url: parsed.url, refusal: null };
  }

  /**
   * Connect time: the addresses `hostname` may be connected at (an IP literal is its own address).
   * Throws {@link ParticipantAddressRefusedError} when any address it has is forbidden or outside
   * the allow-list, or when it does not resolve.
   */
  async connectAddresses(hostname: string): Promise<string[]> {
    const verdict = await this.addressesOf(bareHost(hostname));
    if ('refusal' in verdict) throw new ParticipantAddressRefusedError(verdict.refusal);
    return verdict.addresses;
  }

  private async addressesOf(host: string): Promise<{ addresses: string[] } | { refusal: string }> {
    if (METADATA_HOSTS.has(host)) return { refusal: `host "${host}" ${METADATA}` };
    let addresses: string[];
    if (isIP(host)) addresses = [host];
    else {
      try {
        addresses = await this.resolve(host);
      } catch {
        addresses = [];
      }
      if (addresses.length === 0) return { refusal: `host "${host}" does not resolve` };
    }
    // every address, not the first: the connection may go to any of them
    for (const a of addresses) {
      const reason = forbiddenAddress(a);
      if (reason) return { refusal: reason };
    }
    if (!this.allowList.allows(host, addresses))
      return { refusal: `host "${host}" is not in PARTICIPANT_URL_ALLOWLIST` };
    return { addresses };
  }
}
