import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import {
  ParticipantConflictError,
  ParticipantNotFoundError,
  UnsafeParticipantUrlError,
  ValidationError,
  heartbeatSchema,
  registerParticipantSchema,
  type ParticipantView,
} from '#contracts';
import { ParticipantEntity, ParticipantInstanceEntity, PgParticipantRegistry, type TransactionStore } from '#store';
import type { Config } from '../config/config';
import { Engine } from '../engine/engine.service';
import { ParticipantDirectory } from '../engine/participant-directory';
import { parse } from '../http/parse';
import type { Reply } from '../http/reply';
import { CONFIG, STORE } from '../tokens';
import { ParticipantUrlGuard } from './url-safety';
import { participantView } from './participant-views';

/** The participant registry: participants, their instances and leases. */
@Injectable()
export class ParticipantsService {
  private readonly urlGuard: ParticipantUrlGuard;

  constructor(
    @InjectRepository(ParticipantEntity) private readonly repo: Repository<ParticipantEntity>,
    @InjectRepository(ParticipantInstanceEntity) private readonly instances: Repository<ParticipantInstanceEntity>,
    private readonly registry: PgParticipantRegistry,
    private readonly directory: ParticipantDirectory,
    private readonly engine: Engine,
    @Inject(STORE) private readonly store: TransactionStore,
    @Inject(CONFIG) config: Config,
  ) {
    this.urlGuard = new ParticipantUrlGuard({ allowList: config.PARTICIPANT_URL_ALLOWLIST });
  }

  /**
   * Registers or updates a participant and one of its instances (without `instanceId`, the URL names
   * the instance): 201 when the participant or the instance is new, 200 when both were known. The
   * instance is up, with a fresh lease. Unsafe URLs are refused, nothing written; a safe one is stored
   * in its normalised form, the one that will be called.
   */
  async register(body: unknown): Promise<Reply<ParticipantView>> {
    const p = parse(registerParticipantSchema, body, 'participant');
    // the URL as sent: the schema's URL check trims it, and whitespace is one of the spellings refused
    const { url, refusal } = await this.urlGuard.check((body as { url: string }).url, p.transport);
    if (refusal !== null) throw new UnsafeParticipantUrlError(refusal);
    const { created } = await this.registry.register({
      name: p.name,
      instanceId: p.instanceId ?? url,
      url,
      transport: p.transport,
      ttlSeconds: p.ttlSeconds ?? null,
      secret: p.secret ?? null,
      metadata: p.metadata ?? {},
      maxConcurrency: p.maxConcurrency ?? null,
      ratePerSecond: p.ratePerSecond ?? null,
      autoReplay: p.autoReplay ?? false,
    });
    this.directory.forget(p.name);
    return { status: created ? 201 : 200, body: await this.view(p.name) };
  }

  /** Extends the lease of one instance, or of those registered without an `instanceId`; 404 when none matches. */
  async heartbeat(name: string, body: unknown): Promise<Reply<ParticipantView>> {
    const { instanceId } = parse(heartbeatSchema, body, 'heartbeat');
    let renewed = await this.registry.heartbeat(name, instanceId);
    const asStored = instanceId === undefined ? null : storedUrlOf(instanceId);
    if (renewed === 'instance' && asStored) renewed = await this.registry.heartbeat(name, asStored);
    if (typeof renewed === 'object') {
      const rule =
        `required: participant "${name}" has ${renewed.ambiguous} instances registered without an instanceId; ` +
        'name the one renewing its lease by its URL';
      throw new ValidationError(`heartbeat is invalid: instanceId ${rule}`, [{ field: 'instanceId', rule }]);
    }
    if (renewed === 'participant') throw new ParticipantNotFoundError(name);
    if (renewed === 'instance')
      throw new ParticipantNotFoundError(name, instanceId ?? '(registered without instanceId)');
    // left, or removed by an operator: a heartbeat does not bring it back (a 404 would: the SDK registers again)
    if (renewed === 'left') {
      throw new ParticipantConflictError(
        `instance "${instanceId ?? '(registered without instanceId)'}" of participant "${name}" left (draining): ` +
          'a heartbeat does not renew it; register it again to bring it back',
      );
    }
    this.directory.forget(name);
    return { status: 200, body: await this.view(name) };
  }

  /**
   * Deregisters an instance: it is draining (no new calls; calls in flight finish) until it registers
   * again. Answers once no coordinator will start a call to it (about a second).
   */
  async leave(name: string, instanceId: string): Promise<Reply<ParticipantView>> {
    const asStored = storedUrlOf(instanceId);
    const left =
      (await this.registry.leave(name, instanceId)) ||
      (asStored !== null && (await this.registry.leave(name, asStored)));
    if (!left) throw new ParticipantNotFoundError(name, instanceId);
    this.directory.forget(name);
    // other coordinators may still call it from their cached read (up to a second old): answer once none will
    await this.directory.outlastReads();
    return { status: 200, body: await this.view(name) };
  }

  async list(): Promise<Reply<{ items: ParticipantView[] }>> {
    const [all, instances, counts] = await Promise.all([
      this.repo.find({ order: { name: 'ASC' } }),
      this.instances.find({ order: { registeredAt: 'ASC' } }),
      this.store.countsByParticipant(),
    ]);
    const items = all.map((p) =>
      participantView(
        p,
        instances.filter((i) => i.participant === p.name),
        counts,
        this.engine,
      ),
    );
    return { status: 200, body: { items } };
  }

  async get(name: string): Promise<Reply<ParticipantView>> {
    return { status: 200, body: await this.view(name) };
  }

  /** Removes a participant with all its instances. Transactions already started with it keep their branches and fail their calls as unknown. */
  async remove(name: string): Promise<Reply<null>> {
    if (!(await this.registry.remove(name))) throw new ParticipantNotFoundError(name);
    this.directory.forget(name);
    await this.directory.outlastReads();
    return { status: 204, body: null };
  }

  private async view(name: string): Promise<ParticipantView> {
    const [p, instances, counts] = await Promise.all([
      this.repo.findOneBy({ name }),
      this.instances.find({ where: { participant: name }, order: { registeredAt: 'ASC' } }),
      this.store.countsByParticipant(name),
    ]);
    if (!p) throw new ParticipantNotFoundError(name);
    return participantView(p, instances, counts, this.engine);
  }
}

/**
 * An instance registered without an `instanceId` is named by its URL as stored (normalised:
 * `http://host:1` is kept as `http://host:1/`): the stored spelling of a URL given another way, or
 * null when there is no other.
 */
function storedUrlOf(instanceId: string): string | null {
  try {
    const href = new URL(instanceId).href;
    return href === instanceId ? null : href;
  } catch {
    return null;
  }
}
