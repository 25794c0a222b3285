import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata', 'instance-data', 'metadata.azure.com']);

/** Addresses no participant may have: link-local (which holds the cloud metadata services) and known metadata IPs. */
const FORBIDDEN = new BlockList();
FORBIDDEN.addSubnet('169.254.0.0', 16, 'ipv4');
FORBIDDEN.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud metadata
FORBIDDEN.addSubnet('fe80::', 10, 'ipv6');
FORBIDDEN.addAddress('fd00:ec2::254', 'ipv6'); // AWS metadata over IPv6
FORBIDDEN.addSubnet('0.0.0.0', 8, 'ipv4');

/** An allow-list from PARTICIPANT_URL_ALLOWLIST: host names and CIDRs/addresses. */
export class UrlAllowList {
  private readonly hosts = new Set<string>();
  private readonly nets = new BlockList();
  private readonly empty: boolean;

  constructor(spec: string | undefined) {
    const entries = (spec ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
    this.empty = entries.length === 0;
    for (const e of entries) {
      const [addr, bits] = e.split('/');
      const family = isIP(addr);
      if (family && bits) this.nets.addSubnet(addr, Number(bits), family === 6 ? 'ipv6' : 'ipv4');
      else if (family) this.nets.addAddress(addr, family === 6 ? 'ipv6' : 'ipv4');
      else this.hosts.add(e);
    }
  }

  allows(host: string, addresses: string[]): boolean {
    if (this.empty || this.hosts.has(host)) return true;
    return addresses.length > 0 && addresses.every((a) => this.nets.check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4'));
  }
}

/**
 * Why a participant URL is refused, or null when it is acceptable: http(s) only, no credentials,
 * no link-local or metadata address (also after DNS resolution), and inside the allow-list if one is set.
 */
export async function refuseParticipantUrl(raw: string, allowList: UrlAllowList): Promise<string | null> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute http(s) URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http or https';
  if (url.username || url.password) return 'must not carry credentials';
  if (url.search || url.hash) return 'must not carry a query or fragment';
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (METADATA_HOSTS.has(host)) return `host "${host}" is a cloud metadata service`;
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await lookup(host, { all: true })).map((a) => a.address);
    } catch {
      return `host "${host}" does not resolve`;
    }
  }
  for (const a of addresses) {
    const mapped = unmapIpv4(a);
    const family = isIP(mapped) === 6 ? 'ipv6' : 'ipv4';
    if (FORBIDDEN.check(mapped, family)) return `address ${a} is link-local or a metadata service`;
  }
  if (!allowList.allows(host, addresses)) return `host "${host}" is not in PARTICIPANT_URL_ALLOWLIST`;
  return null;
}

/** `::ffff:1.2.3.4` and `::ffff:102:304` (IPv4-mapped IPv6) as the IPv4 address they carry. */
function unmapIpv4(address: string): string {
  const m = /^::ffff:(.+)$/i.exec(address);
  if (!m) return address;
  if (isIP(m[1]) === 4) return m[1];
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(m[1]);
  if (!hex) return address;
  const [hi, lo] = [parseInt(hex[1], 16), parseInt(hex[2], 16)];
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}
