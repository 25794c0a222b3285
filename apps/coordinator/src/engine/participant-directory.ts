import type { Repository } from 'typeorm';
import type { ParticipantEntity } from '#store';

const FRESH_MS = 5_000;

/**
 * Participants by name, cached for a few seconds so the hot path reads no row per call. Another
 * instance's update is seen within FRESH_MS; this instance's own updates at once. Only registered
 * names are kept, so lookups of made-up names cannot grow the cache.
 */
export class ParticipantDirectory {
  private readonly cache = new Map<string, { entity: ParticipantEntity; at: number }>();

  constructor(private readonly repo: Repository<ParticipantEntity>) {}

  /** How many participants are cached (registered ones only). */
  get size(): number {
    return this.cache.size;
  }

  async get(name: string): Promise<ParticipantEntity | null> {
    const hit = this.cache.get(name);
    if (hit && Date.now() - hit.at < FRESH_MS) return hit.entity;
    const entity = await this.repo.findOneBy({ name });
    if (entity) this.cache.set(name, { entity, at: Date.now() });
    else this.cache.delete(name);
    return entity;
  }

  /** The names in `names` that are not registered. */
  async missing(names: string[]): Promise<string[]> {
    const found = await Promise.all([...new Set(names)].map(async (n) => [n, await this.get(n)] as const));
    return found.filter(([, p]) => !p).map(([n]) => n);
  }

  /** The names in `names` whose lease lapsed (registered with a TTL and not seen within it). */
  async stale(names: string[]): Promise<Set<string>> {
    const found = await Promise.all([...new Set(names)].map(async (n) => [n, await this.get(n)] as const));
    return new Set(found.filter(([, p]) => p && isStale(p)).map(([n]) => n));
  }

  forget(name: string): void {
    this.cache.delete(name);
  }
}

/** A participant registered with a TTL whose last heartbeat is older than it. */
export function isStale(p: Pick<ParticipantEntity, 'ttlSeconds' | 'lastSeenAt'>, now = Date.now()): boolean {
  return p.ttlSeconds !== null && now - p.lastSeenAt.getTime() > p.ttlSeconds * 1000;
}
