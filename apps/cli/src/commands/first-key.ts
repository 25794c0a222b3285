import { generateSecret, hashSecret, keyNamePattern } from '#contracts/api-key-secret';
import type { CreatedApiKey, CreateKeyRequest } from '#client';
import { UsageError } from '../cli-context';

/** Recorded as the creator of a key written straight to the database. */
export const FIRST_KEY_CREATOR = 'txc-cli';

/** A name the coordinator would refuse for a key is a misuse of the command (exit 2), told before any call. */
export function assertKeyName(name: string): void {
  if (!keyNamePattern.test(name))
    throw new UsageError('a key name is 1-63 characters of [A-Za-z0-9._-], starting with a letter or digit');
  if (name === 'anonymous') throw new UsageError('"anonymous" is the actor of open mode, not a key name');
}

/**
 * Writes a key straight into `txc_api_keys`, for the first admin key of a coordinator that requires
 * keys before anyone holds one. Secret and hash come from the functions the coordinator uses
 * (`generateSecret`, `hashSecret` of libs/contracts/src/api-key-secret.ts, the zod-free module the
 * CLI loads alone); the e2e test uses the key over the API. Running coordinators see it within
 * KEY_CACHE_MS.
 *
 * Precondition: the migrations have run. Writes one row, or none if the name is taken (then throws).
 */
export async function createKeyInDatabase(databaseUrl: string, request: CreateKeyRequest): Promise<CreatedApiKey> {
  assertKeyName(request.name);
  const secret = generateSecret();
  const hash = hashSecret(secret);
  // loaded here only: every other key command goes through the API
  const { Client } = await import('pg');
  const pg = new Client({ connectionString: databaseUrl });
  await pg.connect();
  try {
    const { rows } = await pg.query<{ created_at: Date }>(
      `INSERT INTO txc_api_keys (name, role, secret_hash, created_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO NOTHING RETURNING created_at`,
      [request.name, request.role, hash, FIRST_KEY_CREATOR],
    );
    if (!rows[0]) throw new Error(`a key named "${request.name}" exists`);
    return {
      name: request.name,
      role: request.role,
      source: 'stored',
      createdAt: rows[0].created_at.toISOString(),
      createdBy: FIRST_KEY_CREATOR,
      key: secret,
    };
  } finally {
    await pg.end();
  }
}
