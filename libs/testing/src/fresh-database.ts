import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** The Postgres server the tests use (trust auth on 127.0.0.1 by default). */
export const TEST_PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface FreshDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A new, empty database for one test file, so files can run in parallel and never see each other's rows. */
export async function freshDatabase(label = 'test'): Promise<FreshDatabase> {
  const name = `txc_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(TEST_PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** A key prefix no other test file uses. */
export function freshRedisPrefix(label = 'test'): string {
  return `txc-test-${label}-${randomBytes(4).toString('hex')}`;
}

async function admin(sql: string): Promise<void> {
  const client = new Client({ connectionString: TEST_PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
