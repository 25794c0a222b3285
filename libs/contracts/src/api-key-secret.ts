import { createHash, randomBytes } from 'node:crypto';

/**
 * How API key secrets are made and stored, shared by the coordinator (keys created over the API)
 * and the CLI (the first admin key, written to the database). No zod here: the CLI loads this
 * module alone (`#contracts/api-key-secret`).
 */

/** A key's name: also the actor recorded with each operator action. */
export const keyNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/**
 * Hash under which a secret is looked up and stored. Secrets are long random strings (at least
 * 16 characters, 32 bytes when generated), so a fast unsalted hash does not make them guessable.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** A new secret: `txc_` and 32 random bytes in base64url. Shown once; only its hash is kept. */
export function generateSecret(): string {
  return `txc_${randomBytes(32).toString('base64url')}`;
}
