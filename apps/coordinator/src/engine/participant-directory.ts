import type { Repository } from 'typeorm';
import type { ParticipantEntity, ParticipantInstanceEntity } from '#store';

/** How long a read of a participant and its instances is used before it is read again. */
const FRESH_MS = 1_000;

/** A participant with its instances, as read at `readAt`. */
export interface ParticipantEntry {
  participant: ParticipantEntity;
  instances: ParticipantInstanceEntity[];
  readAt: number;
}

/**
 * Participants and their instances by name, cached for a second so the hot path reads no row per
 * call. A cached lease can only look older than it is (a heartbeat since is not seen yet), never
 * younger: a lapsed lease is never taken for a live one, and an entry in which no instance is live
 * is read again before a call waits on it. This instance's own updates are seen at once. Only
 * registered names are kept, so lookups of made-up names cannot grow the cache.
 */
export class ParticipantDirectory {
  private readonly cache = new Map<string, ParticipantEntry>();
  /** Reads under way, by name: the calls that find the cache stale at once share one read. */
  private readonly reading = new Map<string, Promise<ParticipantEntry | null>>();

  constructor(
    private readonly repo: Repository<ParticipantEntity>,
    private readonly instances: Repository<ParticipantInstanceEntity>,
  ) {}

  /** How many participants are cached (registered ones only). */
  get size(): number {
    return this.cache.size;
  }

  async get(name: string): Promise<ParticipantEntity | null> {
    return (await this.entry(name))?.participant ?? null;
  }

  /** The participant and its instances; `fresh` reads them again unless read in this very moment. */
  async entry(name: string, fresh = false): Promise<ParticipantEntry | null> {
    const hit = this.cache.get(name);
    const maxAge = fresh ? 100 : FRESH_MS;
    if (hit && Date.now() - hit.readAt < maxAge) return hit;
    let read = this.reading.get(name);
    if (!read) {
      read = this.read(name).finally(() => this.reading.delete(name));
      this.reading.set(name, read);
    }
    return read;
  }

  private async read(name: string): Promise<ParticipantEntry | null> {
    const readAt = Date.now();
    const [participant, instances] = await Promise.all([
      this.repo.findOneBy({ name }),
      this.instances.find({ where: { participant: name }, order: { registeredAt: 'ASC' } }),
    ]);
    if (!participant) {
      this.cache.delete(name);
      return null;
    }
    const entry = { participant, instances, readAt };
    this.cache.set(name, entry);
    return entry;
  }

  /** The names in `names` that are not registered. */
  async missing(names: string[]): Promise<string[]> {
    const found = await Promise.all([...new Set(names)].map(async (n) => [n, await this.get(n)] as const));
    return found.filter(([, p]) => !p).map(([n]) => n);
  }

  /** The names in `names` that are registered but have no live instance. */
  async stale(names: string[]): Promise<Set<string>> {
    const found = await Promise.all([...new Set(names)].map(async (n) => [n, await this.entry(n)] as const));
    return new Set(found.filter(([, e]) => e && !e.instances.some((i) => isLive(i))).map(([n]) => n));
  }

  forget(name: string): void {
    this.cache.delete(name);
  }

  /**
   * Resolves once every read any coordinator took before now has expired: from then on, none calls
   * an instance from a read older than a change committed before this was called. A leave and a
   * removal answer after it, so that "no new call" holds across coordinators once they answer.
   */
  async outlastReads(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, FRESH_MS + READ_MARGIN_MS));
  }
}

/** A read's age is measured from before its query was sent: this covers timers firing late. */
const READ_MARGIN_MS = 50;

/** An instance that has not deregistered and whose lease (if it has one) has not lapsed. */
export function isLive(i: Pick<ParticipantInstanceEntity, 'ttlSeconds' | 'lastSeenAt' | 'leftAt'>, now = Date.now()) {
  return i.leftAt === null && !isExpired(i, now);
}

/** An instance registered with a TTL whose last heartbeat is older than it. */
export function isExpired(i: Pick<ParticipantInstanceEntity, 'ttlSeconds' | 'lastSeenAt'>, now = Date.now()): boolean {
  return i.ttlSeconds !== null && now - i.lastSeenAt.getTime() > i.ttlSeconds * 1000;
}

/** When an instance's lease runs out, or null when it never does. */
export function expiresAt(i: Pick<ParticipantInstanceEntity, 'ttlSeconds' | 'lastSeenAt'>): Date | null {
  return i.ttlSeconds === null ? null : new Date(i.lastSeenAt.getTime() + i.ttlSeconds * 1000);
}
