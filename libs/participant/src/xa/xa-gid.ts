import { createHash } from 'node:crypto';

/** Postgres caps a prepared transaction's identifier at 200 bytes. */
export const MAX_GID_LENGTH = 200;

/** The default first segment of every gid this SDK prepares; recovery only touches gids that carry it. */
export const DEFAULT_GID_PREFIX = 'txc';

const PREFIX = /^[a-z0-9_-]{1,32}$/;
/** What a gid may contain: it is spliced into `PREPARE TRANSACTION '<gid>'`, which takes no parameter. */
const SAFE_GID = /^[A-Za-z0-9._-]{1,200}$/;

/** What a gid says about its branch: the ids when they fit in it, only a hash when they did not. */
export type ParsedGid = { transactionId: string; branchId: string } | { hash: string };

/**
 * The prepared-transaction identifier of one branch: `<prefix>.<base64url(transactionId)>.<base64url(branchId)>`,
 * reversible so that recovery can ask the coordinator about the transaction; when that would pass
 * {@link MAX_GID_LENGTH}, `<prefix>.h.<sha256>` (recovery then leaves it for phase two's redelivery).
 * Only `[A-Za-z0-9._-]`, so it is safe to splice into SQL.
 */
export function xaGid(prefix: string, transactionId: string, branchId: string): string {
  assertPrefix(prefix);
  const readable = `${prefix}.${encode(transactionId)}.${encode(branchId)}`;
  if (readable.length <= MAX_GID_LENGTH) return readable;
  const hash = createHash('sha256').update(transactionId).update('\0').update(branchId).digest('hex');
  return `${prefix}.h.${hash}`;
}

/** The branch behind a gid made by {@link xaGid} with `prefix`, or undefined for any other gid. */
export function parseXaGid(prefix: string, gid: string): ParsedGid | undefined {
  const parts = gid.split('.');
  if (parts.length !== 3 || parts[0] !== prefix) return undefined;
  // a base64url encoding is never one character long, so `h` cannot be an encoded id
  if (parts[1] === 'h') return { hash: parts[2] };
  return { transactionId: decode(parts[1]), branchId: decode(parts[2]) };
}

/** Throws unless `gid` can be spliced into SQL as a literal. */
export function assertSafeGid(gid: string): void {
  if (!SAFE_GID.test(gid)) throw new TypeError(`unsafe prepared transaction id: ${JSON.stringify(gid)}`);
}

/** Throws unless `prefix` is 1-32 of `[a-z0-9_-]`. */
export function assertPrefix(prefix: string): void {
  if (!PREFIX.test(prefix)) throw new TypeError(`invalid gid prefix: ${JSON.stringify(prefix)}`);
}

function encode(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

function decode(part: string): string {
  return Buffer.from(part, 'base64url').toString('utf8');
}
