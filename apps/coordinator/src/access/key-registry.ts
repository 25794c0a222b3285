import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { Pool } from 'pg';
import { KeyConflictError, ValidationError, type ApiKeyView, type Role } from '#contracts';
import type { Config } from '../config/config';
import { CONFIG, PG_POOL } from '../tokens';
import { generateSecret, hashSecret, parseApiKeys } from './api-keys';
import { ANONYMOUS, type Caller } from './caller';
import { deleteStoredKey } from './stored-keys';

interface Cached<T> {
  value: T;
  readAt: number;
  until: number;
}

/** How often at most a secret no cached key has makes the stored keys be read again. */
const MISS_REREAD_MS = 1_000;

/**
 * The API keys: those of `API_KEYS` (in memory only) and those created through the admin API (in
 * `txc_api_keys`, by hash). The stored ones are held in memory and re-read every `KEY_CACHE_MS`, so
 * a key revoked on one instance stops working on the others within that time.
 */
@Injectable()
export class KeyRegistry implements OnApplicationBootstrap {
  private readonly logger = new Logger('Access');
  private readonly configured: Map<string, { name: string; role: Role }>;
  /** Every stored key by the hash of its secret, re-read when older than KEY_CACHE_MS. */
  private stored: Cached<Map<string, { name: string; role: Role }>> | null = null;
  private reading: Promise<Map<string, { name: string; role: Role }>> | null = null;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(PG_POOL) private readonly pool: Pool,
  ) {
    const { keys } = parseApiKeys(config.API_KEYS); // validated with the rest of the configuration
    this.configured = new Map(keys.map((k) => [hashSecret(k.secret), { name: k.name, role: k.role }]));
  }

  async onApplicationBootstrap(): Promise<void> {
    if (await this.isOpen()) {
      this.logger.warn('open mode: no API key is configured, every request is allowed (set API_KEYS to require keys)');
    } else {
      this.logger.log(
        `access control on: ${this.configured.size} key(s) from API_KEYS, ${(await this.storedKeys()).size} stored`,
      );
    }
  }

  /**
   * Open mode: no key configured at all, in `API_KEYS` or in the table. While it seems open, the
   * table is read again at most once per MISS_REREAD_MS rather than per KEY_CACHE_MS: the first key
   * created through another instance ends open mode here within about a second, as a new key
   * starts working. (Until then everyone acts here as admin, and may create keys.)
   */
  async isOpen(): Promise<boolean> {
    if (this.configured.size > 0) return false;
    if ((await this.storedKeys()).size > 0) return false;
    if (this.stored && Date.now() - this.stored.readAt >= MISS_REREAD_MS) {
      this.stored = null;
      return (await this.storedKeys()).size === 0;
    }
    return true;
  }

  /**
   * The caller a secret stands for, or null if no key has it. Answered from memory: an unknown
   * secret costs no query, whatever a client sends.
   */
  async identify(secret: string): Promise<Caller | null> {
    const hash = hashSecret(secret);
    let key = this.configured.get(hash) ?? (await this.storedKeys()).get(hash);
    // a key just created through another instance is not in this cache yet: an unknown secret
    // re-reads the keys, but at most once per MISS_REREAD_MS, so guessing costs no query per guess
    if (!key && this.stored && Date.now() - this.stored.readAt >= MISS_REREAD_MS) {
      this.stored = null;
      key = (await this.storedKeys()).get(hash);
    }
    return key ? { ...key, open: false } : null;
  }

  /** The caller of a request in open mode. */
  static anonymous(): Caller {
    return { name: ANONYMOUS, role: 'admin', open: true };
  }

  async list(): Promise<ApiKeyView[]> {
    const { rows } = await this.pool.query<{ name: string; role: Role; created_by: string; created_at: Date }>(
      'SELECT name, role, created_by, created_at FROM txc_api_keys ORDER BY name',
    );
    const env = [...this.configured.values()].map((k): ApiKeyView => ({
      name: k.name,
      role: k.role,
      source: 'env',
      createdAt: null,
      createdBy: null,
    }));
    const stored = rows.map((r): ApiKeyView => ({
      name: r.name,
      role: r.role,
      source: 'stored',
      createdAt: r.created_at.toISOString(),
      createdBy: r.created_by,
    }));
    return [...env, ...stored].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Creates a stored key; the secret is answered once and never kept. 409 if the name is taken. */
  async create(name: string, role: Role, by: string): Promise<{ view: ApiKeyView; secret: string }> {
    if (name === ANONYMOUS) {
      const rule = `"${ANONYMOUS}" is the actor of open mode, not a key name`;
      throw new ValidationError(`key name "${name}" is reserved`, [{ field: 'name', rule }]);
    }
    if ([...this.configured.values()].some((k) => k.name === name)) {
      throw new KeyConflictError(`a key named "${name}" is configured by API_KEYS`);
    }
    const secret = generateSecret();
    const { rows } = await this.pool.query<{ created_at: Date }>(
      `INSERT INTO txc_api_keys (name, role, secret_hash, created_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO NOTHING RETURNING created_at`,
      [name, role, hashSecret(secret), by],
    );
    if (!rows[0]) throw new KeyConflictError(`a key named "${name}" exists`);
    this.stored = null;
    // the log is the keys' audit trail: a revoked key's row is gone
    if (this.configured.size === 0 && (await this.storedKeys()).size === 1) {
      this.logger.log(`access control on: the first key ("${name}", ${role}) was created by ${by}`);
    } else {
      this.logger.log(`key "${name}" (${role}) created by ${by}`);
    }
    return {
      view: { name, role, source: 'stored', createdAt: rows[0].created_at.toISOString(), createdBy: by },
      secret,
    };
  }

  /**
   * Deletes a stored key; false if there is none by that name. The last key is not deleted while
   * no `API_KEYS` is configured: that would silently open the coordinator to everyone (409). A name
   * configured by `API_KEYS` is refused (409) unless a stored key has it too (the CLI's
   * `keys create --database-url` cannot know API_KEYS): that stored key is deleted.
   */
  async revoke(name: string, by: string): Promise<boolean> {
    const deleted = await deleteStoredKey(this.pool, name, { keepLast: this.configured.size === 0 });
    this.stored = null;
    if (deleted) {
      this.logger.log(`key "${name}" revoked by ${by}`);
      return true;
    }
    if ([...this.configured.values()].some((k) => k.name === name)) {
      throw new KeyConflictError(`the key "${name}" is configured by API_KEYS: remove it there`);
    }
    const { rows } = await this.pool.query('SELECT 1 FROM txc_api_keys WHERE name = $1', [name]);
    if (rows.length) {
      throw new KeyConflictError(
        `"${name}" is the last API key: revoking it would turn access control off. Create another key first`,
      );
    }
    return false;
  }

  /** The stored keys, read at most once per KEY_CACHE_MS (one read at a time). */
  private async storedKeys(): Promise<Map<string, { name: string; role: Role }>> {
    if (this.stored && this.stored.until > Date.now()) return this.stored.value;
    this.reading ??= this.pool
      .query<{ name: string; role: Role; secret_hash: string }>('SELECT name, role, secret_hash FROM txc_api_keys')
      .then(({ rows }) => {
        const value = new Map(rows.map((r) => [r.secret_hash, { name: r.name, role: r.role }]));
        this.stored = { value, readAt: Date.now(), until: Date.now() + this.config.KEY_CACHE_MS };
        return value;
      })
      .finally(() => (this.reading = null));
    return this.reading;
  }
}
