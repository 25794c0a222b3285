import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import {
  ParticipantNotFoundError,
  UnsafeParticipantUrlError,
  registerParticipantSchema,
  type ParticipantView,
} from '#contracts';
import { ParticipantEntity, type TransactionStore } from '#store';
import type { Config } from '../config/config';
import { Engine } from '../engine/engine.service';
import { ParticipantDirectory } from '../engine/participant-directory';
import { parse } from '../http/parse';
import type { Reply } from '../http/reply';
import { CONFIG, STORE } from '../tokens';
import { ParticipantUrlGuard } from './url-safety';

/** The participant registry. */
@Injectable()
export class ParticipantsService {
  private readonly urlGuard: ParticipantUrlGuard;

  constructor(
    @InjectRepository(ParticipantEntity) private readonly repo: Repository<ParticipantEntity>,
    private readonly directory: ParticipantDirectory,
    private readonly engine: Engine,
    @Inject(STORE) private readonly store: TransactionStore,
    @Inject(CONFIG) config: Config,
  ) {
    this.urlGuard = new ParticipantUrlGuard({ allowList: config.PARTICIPANT_URL_ALLOWLIST });
  }

  /**
   * Registers or updates a participant: 201 when new, 200 when updated. Unsafe URLs are refused,
   * nothing written; a safe one is stored in its normalised form, the one that will be called.
   */
  async register(body: unknown): Promise<Reply<ParticipantView>> {
    const p = parse(registerParticipantSchema, body, 'participant');
    // the URL as sent: the schema's URL check trims it, and whitespace is one of the spellings refused
    const { url, refusal } = await this.urlGuard.check((body as { url: string }).url, p.transport);
    if (refusal !== null) throw new UnsafeParticipantUrlError(refusal);
    const rows: { inserted: boolean }[] = await this.repo.query(
      `INSERT INTO txc_participants (name, url, transport, ttl_seconds, secret, metadata)
         VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (name) DO UPDATE SET url = EXCLUDED.url, transport = EXCLUDED.transport,
         ttl_seconds = EXCLUDED.ttl_seconds, secret = EXCLUDED.secret, metadata = EXCLUDED.metadata,
         updated_at = now(), last_seen_at = now()
       RETURNING (xmax = 0) AS inserted`,
      [p.name, url, p.transport, p.ttlSeconds ?? null, p.secret ?? null, JSON.stringify(p.metadata ?? {})],
    );
    this.directory.forget(p.name);
    return { status: rows[0].inserted ? 201 : 200, body: await this.view(p.name) };
  }

  /** Extends a participant's lease. */
  async heartbeat(name: string): Promise<Reply<ParticipantView>> {
    const result = await this.repo.update({ name }, { lastSeenAt: () => 'now()' });
    if (!result.affected) throw new ParticipantNotFoundError(name);
    return { status: 200, body: await this.view(name) };
  }

  async list(): Promise<Reply<{ items: ParticipantView[] }>> {
    const [all, counts] = await Promise.all([
      this.repo.find({ order: { name: 'ASC' } }),
      this.store.countsByParticipant(),
    ]);
    return { status: 200, body: { items: all.map((p) => this.toView(p, counts)) } };
  }

  async get(name: string): Promise<Reply<ParticipantView>> {
    return { status: 200, body: await this.view(name) };
  }

  /** Removes a participant. Transactions already started with it keep their branches and fail their calls as unknown. */
  async remove(name: string): Promise<Reply<null>> {
    const result = await this.repo.delete({ name });
    if (!result.affected) throw new ParticipantNotFoundError(name);
    this.directory.forget(name);
    return { status: 204, body: null };
  }

  private async view(name: string): Promise<ParticipantView> {
    const p = await this.repo.findOneBy({ name });
    if (!p) throw new ParticipantNotFoundError(name);
    return this.toView(p, await this.store.countsByParticipant(name));
  }

  private toView(p: ParticipantEntity, counts: Map<string, { inFlight: number; failed: number }>): ParticipantView {
    const { stats } = this.engine;
    const minute = stats.lastMinute(p.name);
    const mine = counts.get(p.name) ?? { inFlight: 0, failed: 0 };
    return {
      ...toView(p, stats.errorRate(p.name), stats.lastError(p.name)),
      calls: minute.calls,
      latencyP50Ms: minute.p50Ms,
      latencyP99Ms: minute.p99Ms,
      inFlightTransactions: mine.inFlight,
      failedTransactions: mine.failed,
    };
  }
}

function toView(
  p: ParticipantEntity,
  errorRate: number | null,
  lastError: string | null,
): Omit<ParticipantView, 'calls' | 'latencyP50Ms' | 'latencyP99Ms' | 'inFlightTransactions' | 'failedTransactions'> {
  const stale = p.ttlSeconds !== null && Date.now() - p.lastSeenAt.getTime() > p.ttlSeconds * 1000;
  return {
    name: p.name,
    url: p.url,
    transport: p.transport,
    ttlSeconds: p.ttlSeconds,
    hasSecret: p.secret !== null,
    metadata: p.metadata,
    status: stale ? 'stale' : 'up',
    circuit: 'disabled',
    lastSeenAt: p.lastSeenAt.toISOString(),
    errorRate,
    lastError,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}
