/**
 * The longest prefix of the UTF-8 bytes `bytes` that is at most `limit` bytes and ends on a
 * character boundary, as text: a cut inside a multi-byte character would decode to U+FFFD and make
 * the stored text longer than the limit.
 */
export function utf8Prefix(bytes: Buffer, limit: number): string {
  if (bytes.length <= limit) return bytes.toString('utf8');
  let end = limit;
  // back off the continuation bytes (10xxxxxx) of a character the limit falls inside
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end).toString('utf8');
}
