import { createHash } from 'node:crypto';

/** A Postgres name BullMQ takes as a schema: a simple identifier of at most 63 bytes. */
const SIMPLE_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * The schema of the wake queue on BullMQ's Postgres backend for a `REDIS_PREFIX`. A prefix that makes
 * a simple identifier keeps `<prefix>_queue` (the default `txc` gives `txc_queue`); one with `-` or
 * `:`, a leading digit, or too long for Postgres gets `txcq_<its letters>_<hash of it>`, so two
 * prefixes never share a schema. The hash's hex digits never spell `queue`: the two forms cannot meet.
 */
export function queueSchemaOf(prefix: string): string {
  const plain = `${prefix}_queue`;
  if (SIMPLE_IDENTIFIER.test(plain)) return plain;
  const hash = createHash('sha256').update(prefix).digest('hex').slice(0, 16);
  const readable = prefix.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 40);
  return `txcq_${readable}_${hash}`;
}
