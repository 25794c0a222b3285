import { Inject, Injectable } from '@nestjs/common';
import { settleKey } from './key-bookkeeping';
import {
  CoordinatorError,
  IdempotencyKeyInFlightError,
  IdempotencyKeyReusedError,
  Limits,
  ValidationError,
} from '#contracts';
import type { IdempotencyRecord, TransactionStore } from '#store';
import { Engine } from '../engine/engine.service';
import { STORE } from '../tokens';
import { toProblem } from './problem.filter';
import type { Reply } from './reply';

const KEY_PATTERN = new RegExp(`^[\\x21-\\x7e]{1,${Limits.maxIdempotencyKeyLength}}$`);
/** How long a repeat waits for the first request's answer before it is told to retry. */
const WAIT_FOR_FIRST_MS = 30_000;
/**
 * How old an unanswered claim of a request other than a start is when a repeat of it runs it again:
 * its first request's process died (a live one answers within its longest wait, a minute). The
 * actions keyed this way (commit, abort, replay, ...) are themselves safe to repeat. A claim whose
 * holder is known dead (see {@link IdempotencyService.holderDead}) is run again at once.
 */
const STALE_CLAIM_MS = 2 * 60_000;
/**
 * How old a start's key with no answer is when a repeat builds the answer from the log itself: its
 * first request's process died (a live one answers within its longest wait, a minute). Sooner, a
 * first request still waiting for its transaction on another instance would find its answer
 * replaced by the repeat's view of it half-way (202 running where it was about to answer 200).
 * A key whose holder is known dead is answered from the log at once.
 */
const START_FROM_LOG_AFTER_MS = STALE_CLAIM_MS;
/**
 * How old a key with no answer is when a repeat of {@link IdempotencyService.run} takes an answer the
 * log holds for good (a registered branch's vote: the first request, alive or not, answers the same).
 */
const DECIDED_FROM_LOG_AFTER_MS = 5_000;

/** A keyed request this process is answering now. */
interface Holding {
  hash: string;
  answer: Promise<Reply>;
}

/**
 * `Idempotency-Key` (README, API): the same key and request within 24 h gets the first response;
 * another request with the key gets 422; a repeat arriving while the first is in flight waits for
 * its answer and never runs a second time. The key is claimed with a unique insert, not a read-then-write.
 */
@Injectable()
export class IdempotencyService {
  /** The keyed requests this process is answering now: a repeat arriving here waits for that very answer. */
  private readonly holding = new Map<string, Holding>();
  /** Keys a request of this process is claiming now (sent, not yet held): not abandoned, although not held yet. */
  private readonly claiming = new Set<string>();

  constructor(
    @Inject(STORE) private readonly store: TransactionStore,
    private readonly engine: Engine,
  ) {}

  /** The instance this process's requests claim keys as (the key's holder). */
  get holder(): string {
    return this.engine.instanceId;
  }

  /** Checks the header's shape; returns the key or undefined. */
  static key(header: string | string[] | undefined): string | undefined {
    if (header === undefined) return undefined;
    const key = Array.isArray(header) ? header[0] : header;
    if (!KEY_PATTERN.test(key)) {
      throw new ValidationError('Idempotency-Key is invalid', [
        { field: 'Idempotency-Key', rule: 'must be 1-255 visible ASCII characters (! to ~, no space)' },
      ]);
    }
    return key;
  }

  static expiry(): Date {
    return new Date(Date.now() + Limits.idempotencyTtlMs);
  }

  /**
   * Runs `work` once per key; repeats get the stored answer. Errors of the request (4xx) are stored
   * too; a retryable error or a provisional answer ("still in progress, retry") frees the key instead.
   * `fromLog` answers a repeat whose first request has held the key elsewhere for a while (its process
   * may have died), or died holding it, from what the log already holds for good, when it does (null:
   * wait on, or run `work`); that answer is kept for the key like a first one.
   */
  async run(
    key: string | undefined,
    hash: string,
    work: () => Promise<Reply>,
    fromLog?: () => Promise<Reply | null>,
  ): Promise<Reply> {
    if (!key) return work();
    const until = Date.now() + WAIT_FOR_FIRST_MS;
    for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
      const here = this.repeatHere(key, hash);
      if (here) return here;
      const existing = await this.store.findIdempotencyKey(key);
      if (existing?.responseStatus != null || (existing && existing.requestHash !== hash)) {
        return this.answerOf(existing, key, hash);
      }
      // free (never claimed, or let go by a first request with no lasting answer: a repeat runs it
      // then), or claimed by a request elsewhere: waited for, or taken over once stale (it died).
      // Claimed by this process, with no request here claiming or holding it (a claim is held from the
      // moment it is made): its request ended without storing an answer (the log was away too long),
      // and no answer will come; taken over at once, by one request at a time
      if (this.claiming.has(key)) {
        await new Promise((r) => setTimeout(r, delay));
        continue;
      }
      const abandonedHere = existing?.holder === this.holder && !this.holding.has(key);
      const deadHolders = abandonedHere ? [...this.engine.deadOwners, this.holder] : this.engine.deadOwners;
      const claim = { holder: this.holder, staleAfterMs: STALE_CLAIM_MS, deadHolders };
      this.claiming.add(key);
      let claimed: boolean;
      try {
        claimed = await this.store.claimIdempotencyKey(key, hash, IdempotencyService.expiry(), claim);
      } finally {
        this.claiming.delete(key);
      }
      if (claimed) {
        // taken over from a first request that died holding it: the log may already say its answer
        const first = existing && fromLog ? async () => (await fromLog()) ?? work() : work;
        return this.hold(key, hash, () => this.runClaimed(key, first));
      }
      // held elsewhere for a while (its process may have died): the log may already say the answer,
      // which is then kept for the key, so that every later repeat gets this same answer
      if (fromLog && existing && existing.ageSeconds * 1000 > DECIDED_FROM_LOG_AFTER_MS) {
        const built = await answerOf(fromLog);
        if (built) {
          if (!built.provisional) await this.remember(key, built);
          return built;
        }
      }
      if (Date.now() > until) throw new IdempotencyKeyInFlightError(key);
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /**
   * The answer of the request holding `key` in this process now, for a repeat of it (422 when the
   * repeat is another request); undefined when no request here holds the key.
   */
  repeatHere(key: string, hash: string): Promise<Reply> | undefined {
    const first = this.holding.get(key);
    if (!first) return undefined;
    if (first.hash !== hash) throw new IdempotencyKeyReusedError(key);
    // an answer stored for the key is a replay; a provisional one ("still in progress") is not stored
    return first.answer.then((reply) =>
      reply.provisional ? reply : { ...reply, headers: { ...reply.headers, 'idempotent-replayed': 'true' } },
    );
  }

  /** Answers `key`'s request with `first`, letting a repeat of it in this process meanwhile wait for that answer. */
  async hold(key: string, hash: string, first: () => Promise<Reply>): Promise<Reply> {
    const answer = first();
    this.holding.set(key, { hash, answer });
    try {
      return await answer;
    } finally {
      if (this.holding.get(key)?.answer === answer) this.holding.delete(key);
    }
  }

  /** Runs `work` for a key this request has claimed, and stores its answer (or frees the key). */
  private async runClaimed(key: string, work: () => Promise<Reply>): Promise<Reply> {
    let reply: Reply;
    try {
      // a refusal of the request is its answer, kept like any other
      reply = (await answerOf(work))!;
    } catch (error) {
      // a failure that is not the request's (retryable, or unexpected): the key is freed for a repeat
      await settleKey(() => this.store.releaseIdempotencyKey(key));
      throw error;
    }
    // the work is done: its answer is stored (or the key freed) through a dropped connection
    if (reply.provisional) await settleKey(() => this.store.releaseIdempotencyKey(key));
    else await this.remember(key, reply);
    return reply;
  }

  /** Stores the first answer given for `key` (through a dropped connection: see settleKey). */
  async remember(key: string, reply: Reply): Promise<void> {
    await settleKey(() =>
      this.store.apply({
        op: 'respond',
        key,
        status: reply.status,
        body: reply.body,
        headers: reply.headers ?? {},
      }),
    );
  }

  /**
   * The first answer for `key`, whose request began (before claiming the key) at `startedAt` and
   * stored `mine`: `mine`, unless the request ran long enough for a repeat to have answered the key
   * from the log first (see {@link waitForFirst}); the stored answer is read back then.
   */
  async firstAnswer(key: string, mine: Reply, startedAt: number): Promise<Reply> {
    // a repeat answers from the log first only once the key is that old, or this instance was fenced
    // meanwhile (its heartbeat lapsed: others may have taken it for dead, the key's holder with it)
    if (Date.now() - startedAt <= START_FROM_LOG_AFTER_MS && !this.engine.fencedSince(startedAt)) return mine;
    const record = await this.store.findIdempotencyKey(key);
    if (record?.responseStatus == null) return mine;
    return { status: record.responseStatus, body: record.responseBody, headers: record.responseHeaders ?? {} };
  }

  /**
   * The stored answer for `key`, waiting while the first request is still in flight. `fallback`
   * builds the answer when the first request's process died after its work but before storing it.
   * `claimedBefore`: the key was claimed before the calling request began (a repeat's start, which is
   * held from before it reads the key): a claim of this process then has no request answering it
   * (one held here would have been waited for instead, by {@link repeatHere}); it ended without
   * storing its answer (the log was away too long), and the fallback answers at once.
   */
  async waitForFirst(
    key: string,
    hash: string,
    fallback?: (r: IdempotencyRecord) => Promise<Reply | null>,
    claimedBefore = false,
  ): Promise<Reply> {
    const until = Date.now() + WAIT_FOR_FIRST_MS;
    for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
      const record = await this.store.findIdempotencyKey(key);
      if (record) {
        if (record.requestHash !== hash) throw new IdempotencyKeyReusedError(key);
        if (record.responseStatus !== null) return this.answerOf(record, key, hash);
        const abandonedHere = claimedBefore && record.holder === this.holder;
        const dead = abandonedHere || this.holderDead(record);
        if (fallback && (record.ageSeconds * 1000 > START_FROM_LOG_AFTER_MS || dead)) {
          const built = await fallback(record);
          if (built) return built;
        }
      }
      if (Date.now() > until) throw new IdempotencyKeyInFlightError(key);
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /**
   * Whether the request holding `record`'s key can no longer answer it: the instance that claimed
   * the key is dead (its heartbeat lapsed, so it fenced itself first, or its process is gone).
   */
  private holderDead(record: IdempotencyRecord): boolean {
    return record.holder !== null && this.engine.deadOwners.includes(record.holder);
  }

  private answerOf(record: IdempotencyRecord, key: string, hash: string): Promise<Reply> | Reply {
    if (record.requestHash !== hash) throw new IdempotencyKeyReusedError(key);
    if (record.responseStatus === null) return this.waitForFirst(key, hash);
    return {
      status: record.responseStatus,
      body: record.responseBody,
      headers: { ...(record.responseHeaders ?? {}), 'idempotent-replayed': 'true' },
    };
  }
}

/**
 * What `build` answers, with a refusal of the request (a 4xx error) as its problem answer. A request
 * refused as invalid did not start: its answer is not kept for the key (`provisional`), so the
 * corrected request may use the key, and the refusal writes nothing. A refusal about the state of
 * things (404, 409) is the request's answer, kept like any other.
 */
async function answerOf(build: () => Promise<Reply | null>): Promise<Reply | null> {
  try {
    return await build();
  } catch (error) {
    if (!(error instanceof CoordinatorError) || error.retryable) throw error;
    const problem = toProblem(error);
    const headers = { 'content-type': 'application/problem+json' };
    return { status: problem.status, body: problem, headers, provisional: error instanceof ValidationError };
  }
}
