import { randomFillSync } from 'node:crypto';

/** Randomness drawn from the OS a few kilobytes at a time: one call per id costs more than the id. */
const POOL = Buffer.alloc(16 * 256);
let used = POOL.length;

/** A time-ordered UUID (RFC 9562 version 7): 48 bits of Unix ms, then randomness. */
export function uuidV7(now = Date.now()): string {
  if (used === POOL.length) {
    randomFillSync(POOL);
    used = 0;
  }
  const b = POOL.subarray(used, used + 16);
  used += 16;
  b.writeUIntBE(now, 0, 6);
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
