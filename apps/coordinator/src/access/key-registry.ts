import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { Pool } from 'pg';
import { TransactionConflictError, type ApiKeyView, type Role } from '#contracts';
import type { Config } from '../config/config';
import { CONFIG, PG_POOL } from '../tokens';
import { generateSecret, hashSecret, parseApiKeys } from './api-keys';
import { ANONYMOUS, type Caller } from './caller';

interface Cached<T> {
  value: T;
  until: number;
}

/**
 * The API keys: those of `API_KEYS` (in memory only) and those created through the admin API (in
 * `txc_api_keys`, by hash). Lookups of stored keys and the open-mode check are cached for
 * `KEY_CACHE_MS`, so a key revoked on one instance stops working on the others within that time.
 */
@Injectable()
export class KeyRegistry implements OnApplicationBootstrap {
  private readonly logger = new Logger('Access');
  private readonly configured: Map<string, { name: string; role: Role }>;
  private readonly byHash = new Map<string, Cached<Caller | null>>();
  private storedCount: Cached<number> | null = null;

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
        `access control on: ${this.configured.size} key(s) from API_KEYS, ${await this.countStored()} stored`,
      );
    }
  }

  /** Open mode: no key configured at all, in `API_KEYS` or in the table. */
  async isOpen(): Promise<boolean> {
    return this.configured.size === 0 && (await this.countStored()) === 0;
  }

  /** The caller a secret stands for, or null if no key has it. */
  async identify(secret: string): Promise<Caller | null> {
    const hash = hashSecret(secret);
    const env = this.configured.get(hash);
    if (env) return { ...env, open: false };
    const cached = this.byHash.get(hash);
    if (cached && cached.until > Date.now()) return cached.value;
    const { rows } = await this.pool.query<{ name: string; role: Role }>(
      'SELECT name, role FROM txc_api_keys WHERE secret_hash = $1',
      [hash],
    );
    const caller = rows[0] ? { name: rows[0].name, role: rows[0].role, open: false } : null;
    if (this.byHash.size > 10_000) this.byHash.clear(); // unknown secrets must not grow it without bound
    this.byHash.set(hash, { value: caller, until: Date.now() + this.config.KEY_CACHE_MS });
    return caller;
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
    if ([...this.configured.values()].some((k) => k.name === name)) {
      throw new TransactionConflictError(`a key named "${name}" is configured by API_KEYS`);
    }
    const secret = generateSecret();
    const { rows } = await this.pool.query<{ created_at: Date }>(
      `INSERT INTO txc_api_keys (name, role, secret_hash, created_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO NOTHING RETURNING created_at`,
      [name, role, hashSecret(secret), by],
    );
    if (!rows[0]) throw new TransactionConflictError(`a key named "${name}" exists`);
    this.storedCount = null;
    return {
      view: { name, role, source: 'stored', createdAt: rows[0].created_at.toISOString(), createdBy: by },
      secret,
    };
  }

  /** Deletes a stored key; false if there is none by that name. */
  async revoke(name: string): Promise<boolean> {
    if ([...this.configured.values()].some((k) => k.name === name)) {
      throw new TransactionConflictError(`the key "${name}" is configured by API_KEYS: remove it there`);
    }
    const { rowCount } = await this.pool.query('DELETE FROM txc_api_keys WHERE name = $1', [name]);
    this.byHash.clear();
    this.storedCount = null;
    return (rowCount ?? 0) > 0;
  }

  private async countStored(): Promise<number> {
    if (this.storedCount && this.storedCount.until > Date.now()) return this.storedCount.value;
    const { rows } = await this.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM txc_api_keys');
    this.storedCount = { value: rows[0].n, until: Date.now() + this.config.KEY_CACHE_MS };
    return rows[0].n;
  }
}
