import { Inject, Injectable } from '@nestjs/common';
import {
  BranchRejectedError,
  BranchStatus,
  Limits,
  SETTLED_STATUSES,
  TransactionConflictError,
  TransactionNotFoundError,
  TransactionStatus,
  ValidationError,
  interactiveBranchSchema,
  listTransactionsQuerySchema,
  startTransactionSchema,
  type BranchRequest,
  type StartTransactionRequest,
  type TransactionPage,
} from '#contracts';
import type { BranchRecord, EventRecord, IdempotencyRecord, LoadedTransaction, TransactionStore } from '#store';
import type { Caller } from '../access/caller';
import { assertMayActOn } from '../access/ownership';
import { Engine } from '../engine/engine.service';
import { ParticipantDirectory } from '../engine/participant-directory';
import type { Snapshot } from '../engine/settle-waiters';
import { IdempotencyService } from '../http/idempotency.service';
import { parse } from '../http/parse';
import type { Reply } from '../http/reply';
import { keyedRequestHash, requestHash } from '../http/request-hash';
import { STORE } from '../tokens';
import { attemptsOf, toBranchViews, toSummary, toView } from './transaction-views';
import { awaitVote, voteOf } from './branch-vote';
import { decodeCursor, encodeCursor } from './list-cursor';

const STATUSES = Object.values(TransactionStatus) as string[];

/** The client API of transactions: start, read, list, abort, replay. */
@Injectable()
export class TransactionsService {
  constructor(
    private readonly engine: Engine,
    @Inject(STORE) private readonly store: TransactionStore,
    private readonly directory: ParticipantDirectory,
    private readonly idempotency: IdempotencyService,
  ) {}

  /**
   * Starts a transaction. 201 when created (200 once settled with `waitMs`, 202 if it did not settle
   * in time), 200 for a repeat of the same id and body, 409 for the same id with another body.
   */
  async start(body: unknown, key: string | undefined, waitMs: number | undefined, actor: string): Promise<Reply> {
    const request = parse(startTransactionSchema, body, 'transaction');
    const named = [
      ...request.branches.map((b) => b.participant),
      ...(request.check ? [request.check.participant] : []),
    ];
    const missing = await this.directory.missing(named);
    if (missing.length) {
      const errors = request.branches.flatMap((b, i) =>
        missing.includes(b.participant)
          ? [{ field: `branches.${i}.participant`, rule: `participant "${b.participant}" is not registered` }]
          : [],
      );
      if (request.check && missing.includes(request.check.participant)) {
        errors.push({
          field: 'check.participant',
          rule: `participant "${request.check.participant}" is not registered`,
        });
      }
      throw new ValidationError(`unknown participant(s): ${missing.join(', ')}`, errors);
    }
    // the hash answers "same body?" for a repeat, which needs a client-chosen id or an Idempotency-Key;
    // an id the engine chose cannot be repeated, so it gets none (hashing costs more than the row)
    const hash = key || request.id ? requestHash(body) : '';
    if (!key) return this.startOnce(request, hash, undefined, waitMs, actor);
    // the key is claimed with the caller in its hash; the transaction keeps the body's alone (an id is one namespace)
    const keyed = { key, hash: keyedRequestHash(actor, hash) };
    // a repeat in this process waits for the first request's very answer, whatever its wait
    return (
      this.idempotency.repeatHere(key, keyed.hash) ??
      this.idempotency.hold(key, keyed.hash, () => this.startOnce(request, hash, keyed, waitMs, actor))
    );
  }

  /**
   * {@link start} of a parsed request: `hash` its body's, `keyed` its Idempotency-Key if any and the
   * hash the key is claimed with.
   */
  private async startOnce(
    request: StartTransactionRequest,
    hash: string,
    keyed: { key: string; hash: string } | undefined,
    waitMs: number | undefined,
    actor: string,
  ): Promise<Reply> {
    const key = keyed?.key;
    const keyHash = keyed?.hash ?? '';
    const fallback = (record: IdempotencyRecord) => this.replyFromLog(record, key!, hash, request.id, waitMs);
    // a repeat of a key is told by the create's own claim of the key (`key-taken`, below), with no
    // read first; but a client-chosen id is checked before the key there (`exists`), and a repeat must
    // get the first answer, not the transaction as it is now: that case looks the key up first
    if (key && request.id && (await this.store.findIdempotencyKey(key))) {
      return this.idempotency.waitForFirst(key, keyHash, fallback, true);
    }

    const startedAt = Date.now();
    const begun = await this.engine.begin(
      request,
      hash,
      key
        ? { key, requestHash: keyHash, expiresAt: IdempotencyService.expiry(), holder: this.idempotency.holder }
        : undefined,
      actor,
    );
    if (begun.result === 'key-taken') return this.idempotency.waitForFirst(key!, keyHash, fallback, true);
    if (begun.result === 'exists') {
      const reply = await this.existingReply(begun.id, hash, waitMs);
      if (!key) return reply;
      // the id was taken before the key was claimed: the key answers this request from now on
      const claim = { holder: this.idempotency.holder };
      if (!(await this.store.claimIdempotencyKey(key, keyHash, IdempotencyService.expiry(), claim))) {
        return this.idempotency.waitForFirst(key, keyHash, fallback, true);
      }
      await this.idempotency.remember(key, reply);
      return reply;
    }
    let reply: Reply;
    if (waitMs !== undefined) {
      // the answer once settled is stored for the key by the settling write itself, when this
      // instance settles it; else it is stored below, in a write of its own
      const responder = key
        ? { key, reply: (s: Snapshot) => viewReplyOf(200, s.loaded, s.events, NO_STALE_PARTICIPANTS) }
        : undefined;
      const { settled, snapshot, stored, answerInFlight } = await this.engine.waitSettled(begun.id, waitMs, responder);
      if (stored) {
        const mine = { status: stored.status, body: stored.body, headers: stored.headers };
        return this.idempotency.firstAnswer(key!, mine, startedAt);
      }
      // the write carrying this request's answer was still out: the key's answer is what it stored, or not
      if (answerInFlight) return firstOf(await this.idempotency.waitForFirst(key!, keyHash, fallback));
      reply = snapshot
        ? await this.viewReply(200, snapshot.loaded, snapshot.events)
        : await this.viewReply(settled ? 200 : 202, await this.load(begun.id), await this.store.events(begun.id));
    } else {
      reply = await this.viewReply(201, begun.snapshot, begun.events as EventRecord[]);
    }
    if (!key) return reply;
    await this.idempotency.remember(key, reply);
    return this.idempotency.firstAnswer(key, reply, startedAt);
  }

  /**
   * Interactive mode: registers a branch and answers once its try/prepare has: 200 yes, 409 no (or
   * no answer within its attempts), through its retries for up to `waitMs` (then 202; 0: answers 202
   * after a first attempt without an answer). The same branch id again answers from its recorded outcome.
   */
  async registerBranch(
    id: string,
    body: unknown,
    key: string | undefined,
    caller: Caller,
    waitMs: number = Limits.maxWaitMs,
  ): Promise<Reply> {
    const request = parse(interactiveBranchSchema, body, 'branch');
    await assertMayActOn(this.store, id, caller, 'register branches of');
    const missing = await this.directory.missing([request.participant]);
    if (missing.length) {
      throw new ValidationError(`unknown participant: ${request.participant}`, [
        { field: 'participant', rule: `participant "${request.participant}" is not registered` },
      ]);
    }
    // a repeat while the first is in flight elsewhere (its process may have died) is answered from
    // the log once the branch voted, as a registration of a known branch is
    const fromLog = () => this.registrationFromLog(id, request.id);
    const run = async () => {
      const loaded = await this.load(id);
      if (loaded.txn.mode !== 'interactive') {
        throw new TransactionConflictError(
          `transaction "${id}" is not interactive: its branches were given at its start`,
        );
      }
      // a branch of a transaction decided since (a repeat whose first answer was a 202, or was lost) is
      // answered as the branch is: 200 if it said yes, else 409 branch_rejected with why it ended
      const known = loaded.branches.find((b) => b.id === request.id);
      if (known && (loaded.txn.decision !== null || SETTLED_STATUSES.includes(loaded.txn.status))) {
        assertSameBranch(known, request);
        return this.registrationReply(id, request.id, voteOf(known) ?? known.status);
      }
      const registered = await this.engine.registerBranch(id, request);
      if (registered.existing) assertSameBranch(registered.existing, request);
      // a first answer not in yet (retried, or waiting for its participant): wait for the vote, as the
      // contract answers 200 or 409, for up to `?wait` (default the longest a request may ask for)
      const status =
        registered.status ??
        (waitMs > 0
          ? await awaitVote(() => this.load(id), request.id, Date.now() + waitMs, {
              stopping: () => this.engine.isStopping,
            })
          : null);
      return this.registrationReply(id, request.id, status);
    };
    return this.idempotency.run(key, keyedRequestHash(caller.name, 'branch', id, body), run, fromLog);
  }

  /** A registration's answer once its branch's vote is `status` (null: not in yet). */
  private async registrationReply(id: string, branchId: string, status: BranchStatus | null): Promise<Reply> {
    const loaded = await this.load(id);
    // its lastError comes from its attempts, as in the transaction's view
    const view = toBranchViews(loaded, attemptsOf(await this.store.events(id))).find((b) => b.id === branchId);
    if (status === BranchStatus.Succeeded) return { status: 200, body: view };
    if (status === null) {
      // the answer is not in yet (retrying): the client may poll the transaction
      return {
        status: 202,
        body: view,
        headers: { location: `/v1/transactions/${encodeURIComponent(id)}` },
        provisional: true,
      };
    }
    // the transaction's error says why (the branch's no, its attempts run out, the abort that came
    // first); the branch's status alone (completed, completing) tells the client nothing
    throw new BranchRejectedError(branchId, loaded.txn.error ?? view?.lastError ?? `it is ${status}`);
  }

  /** A registration's answer from the log (null: not decided yet): its branch's vote, or the end of its transaction. */
  private async registrationFromLog(id: string, branchId: string): Promise<Reply | null> {
    const { txn, branches } = await this.load(id);
    const branch = branches.find((b) => b.id === branchId);
    const vote = branch ? voteOf(branch) : null;
    if (vote !== null) return this.registrationReply(id, branchId, vote);
    if (SETTLED_STATUSES.includes(txn.status)) {
      throw new TransactionConflictError(`transaction "${id}" is ${txn.status}: the branch was not registered`);
    }
    return null;
  }

  /** Interactive mode: decides commit (409 unless every branch said yes); `waitMs` as for start. */
  async commit(id: string, key: string | undefined, waitMs: number | undefined, caller: Caller): Promise<Reply> {
    await assertMayActOn(this.store, id, caller, 'commit');
    return this.idempotency.run(key, keyedRequestHash(caller.name, 'commit', id), async () => {
      const before = await this.load(id);
      if (before.txn.mode !== 'interactive') {
        throw new TransactionConflictError(`transaction "${id}" is not interactive: it commits on its own`);
      }
      if (!(await this.engine.commit(id))) {
        const now = await this.load(id);
        // aborting already (an abort, its deadline): say so, not that a branch said no
        const why =
          now.txn.decision === 'abort'
            ? `it is ${now.txn.status}${now.txn.error ? ` (${now.txn.error})` : ''}`
            : now.branches.length === 0
              ? 'it has no branch yet (register one first)'
              : 'not every branch said yes';
        throw new TransactionConflictError(`transaction "${id}" cannot commit: ${why}`);
      }
      // `wait` as for start, 0 included: 200 once settled (a repeat of a commit that already settled too)
      const settled = waitMs === undefined ? false : (await this.engine.waitSettled(id, waitMs)).settled;
      return this.current(settled ? 200 : 202, id);
    });
  }

  /**
   * A prepared message's sender committed: delivery starts. Idempotent: a message already submitted
   * (or committed by its check) answers as it is, 202 while delivering, 200 once settled (`waitMs` as
   * for start); an aborted message is 409, since its sender's commit came too late to be delivered.
   */
  async submit(id: string, key: string | undefined, waitMs: number | undefined, caller: Caller): Promise<Reply> {
    await assertMayActOn(this.store, id, caller, 'submit');
    return this.idempotency.run(key, keyedRequestHash(caller.name, 'submit', id), async () => {
      const outcome = await this.engine.submit(id);
      if (outcome === 'not-found') throw new TransactionNotFoundError(id);
      if (outcome === 'aborted') {
        const row = await this.load(id);
        throw new TransactionConflictError(`message "${id}" was aborted and cannot be submitted: ${row.txn.error}`);
      }
      const settled = waitMs ? (await this.engine.waitSettled(id, waitMs)).settled : false;
      const row = settled ? null : await this.load(id);
      return this.current(settled || (row && SETTLED_STATUSES.includes(row.txn.status)) ? 200 : 202, id);
    });
  }

  async get(id: string): Promise<Reply> {
    return this.current(200, id);
  }

  /** Newest first, keyset-paginated by (createdAt, id). */
  async list(query: unknown): Promise<Reply<TransactionPage>> {
    const q = parse(listTransactionsQuerySchema, query, 'query');
    const statuses = q.status?.split(',').filter(Boolean);
    const bad = statuses?.find((s) => !STATUSES.includes(s));
    if (bad) {
      throw new ValidationError(`unknown status "${bad}"`, [
        { field: 'status', rule: `must be among ${STATUSES.join(', ')}` },
      ]);
    }
    const rows = await this.store.list({
      statuses,
      protocol: q.protocol,
      participant: q.participant,
      attention: q.attention,
      from: q.from,
      to: q.to,
      q: q.q,
      limit: q.limit + 1,
      after: q.cursor ? decodeCursor(q.cursor) : undefined,
    });
    const items = rows.slice(0, q.limit);
    const last = items[items.length - 1];
    return {
      status: 200,
      body: {
        items: items.map((t) => toSummary(t, t.attention)),
        nextCursor: rows.length > q.limit && last ? encodeCursor(last.createdAt, last.id) : null,
      },
    };
  }

  /** The transaction as it is now, as a reply with `status`. */
  async current(status: number, id: string): Promise<Reply> {
    const snapshot = await this.store.snapshot(id);
    if (!snapshot) throw new TransactionNotFoundError(id);
    return this.viewReply(status, snapshot.loaded, snapshot.events);
  }

  /** A start of the same id and body as an existing transaction's: 200 with it (with a wait, once settled, else 202). */
  private async existingReply(id: string, hash: string, waitMs: number | undefined): Promise<Reply> {
    const existing = await this.load(id);
    if (existing.txn.requestHash !== hash) {
      throw new TransactionConflictError(`transaction "${id}" exists with a different request body`);
    }
    if (waitMs === undefined || SETTLED_STATUSES.includes(existing.txn.status)) {
      return this.viewReply(200, existing, await this.store.events(id));
    }
    // a repeat that asks to wait waits as the first request did: 200 once settled, else 202
    const { settled } = await this.engine.waitSettled(id, waitMs);
    return this.viewReply(settled ? 200 : 202, await this.load(id), await this.store.events(id));
  }

  private async load(id: string): Promise<LoadedTransaction> {
    const loaded = await this.store.load(id);
    if (!loaded) throw new TransactionNotFoundError(id);
    return loaded;
  }

  private async viewReply(status: number, loaded: LoadedTransaction, events: EventRecord[]): Promise<Reply> {
    return viewReplyOf(status, loaded, events, await this.directory.stale(loaded.txn.participants));
  }

  /**
   * The answer for a key whose first request died before storing it (or runs on another instance
   * past the wait for it), given as that request would have answered, and kept for the key. A key
   * its start created the transaction under: the transaction as the log has it (201; with a wait,
   * 200 once it settles within the wait, else 202). A key claimed for a caller-chosen id that was
   * taken already (no transaction recorded with the key): answered as a repeat of the id is.
   */
  private async replyFromLog(
    record: IdempotencyRecord,
    key: string,
    hash: string,
    requestedId: string | undefined,
    waitMs: number | undefined,
  ): Promise<Reply | null> {
    let reply: Reply;
    if (record.transactionId) {
      const id = record.transactionId;
      const settled = waitMs !== undefined && (await this.engine.waitSettled(id, waitMs)).settled;
      const loaded = await this.store.load(id);
      if (!loaded) return null;
      const status = waitMs === undefined ? 201 : settled || SETTLED_STATUSES.includes(loaded.txn.status) ? 200 : 202;
      reply = await this.viewReply(status, loaded, await this.store.events(id));
    } else if (requestedId) {
      reply = await this.existingReply(requestedId, hash, waitMs);
    } else {
      return null;
    }
    await this.idempotency.remember(key, reply);
    const stored = await this.store.findIdempotencyKey(key);
    return stored?.responseStatus
      ? { status: stored.responseStatus, body: stored.responseBody, headers: stored.responseHeaders ?? {} }
      : reply;
  }
}

/** 409 unless a registration repeated for branch `existing` names the same participant, payload and paths. */
function assertSameBranch(existing: BranchRecord, request: Omit<BranchRequest, 'dependsOn'>): void {
  if (
    existing.participant !== request.participant ||
    requestHash(existing.payload) !== requestHash(request.payload ?? null) ||
    requestHash(existing.paths) !== requestHash(request.paths ?? {})
  ) {
    throw new TransactionConflictError(
      `branch "${request.id}" is registered with another participant, payload or paths`,
    );
  }
}

/** A stored answer given to the request that stored it: not marked as replayed. */
function firstOf(reply: Reply): Reply {
  const { 'idempotent-replayed': _replayed, ...headers } = reply.headers ?? {};
  return { ...reply, headers };
}

/** A settled transaction's attention does not depend on its participants' liveness (see `attentionOf`). */
const NO_STALE_PARTICIPANTS: ReadonlySet<string> = new Set();

function viewReplyOf(
  status: number,
  loaded: LoadedTransaction,
  events: EventRecord[],
  staleParticipants: ReadonlySet<string>,
): Reply & { headers: Record<string, string> } {
  return {
    status,
    body: toView(loaded, events, staleParticipants),
    headers: { location: `/v1/transactions/${encodeURIComponent(loaded.txn.id)}` },
  };
}

/**
 * `?wait=MS`: decimal digits (not `1e3`, `0x10`, `+5`, which Number() would take, nor nothing), from 0 to
 * Limits.maxWaitMs. `wait=0` asks for the answer of a wait that ran out at once: 202 unless settled.
 */
export function parseWait(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n <= Limits.maxWaitMs)) {
    throw new ValidationError('wait is invalid', [
      { field: 'wait', rule: `must be a decimal integer number of milliseconds from 0 to ${Limits.maxWaitMs}` },
    ]);
  }
  return n;
}
