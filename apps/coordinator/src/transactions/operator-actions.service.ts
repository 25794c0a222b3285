import { Inject, Injectable } from '@nestjs/common';
import {
  MAX_BULK_IDS,
  TransactionBusyError,
  TransactionConflictError,
  TransactionNotFoundError,
  TransactionStatus,
  bulkReplaySchema,
  operatorActionSchema,
  type BulkReplayRequest,
  type BulkReplayResult,
} from '#contracts';
import type { TransactionStore } from '#store';
import type { Caller } from '../access/caller';
import { assertMayActOn } from '../access/ownership';
import { Engine } from '../engine/engine.service';
import type { OperatorNote } from '../engine/operator-note';
import { IdempotencyService } from '../http/idempotency.service';
import { parse } from '../http/parse';
import type { Reply } from '../http/reply';
import { keyedRequestHash } from '../http/request-hash';
import { STORE } from '../tokens';
import { TransactionsService } from './transactions.service';

/** Bulk replays run this many at a time, so a recovering participant is not hit by all of them at once. */
const BULK_PACE = 4;

/**
 * Abort, replay, retry now and bulk replay. Each is recorded in the transaction's log as
 * `operator.<action>` with the caller's key name and the reason given.
 */
@Injectable()
export class OperatorActionsService {
  constructor(
    private readonly engine: Engine,
    @Inject(STORE) private readonly store: TransactionStore,
    private readonly transactions: TransactionsService,
    private readonly idempotency: IdempotencyService,
  ) {}

  /**
   * 202 while aborting, 200 when it already was; 409 once committed or committing, or failed (a
   * replay finishes it). A client may abort only its own.
   */
  async abort(id: string, body: unknown, key: string | undefined, caller: Caller): Promise<Reply> {
    const note = noteOf('abort', body, caller);
    await assertMayActOn(this.store, id, caller, 'abort');
    return this.idempotency.run(key, keyedRequestHash(caller.name, 'abort', id, body ?? null), async () => {
      const outcome = await this.engine.abort(id, note);
      if (outcome === 'not-found') throw new TransactionNotFoundError(id);
      if (outcome === 'decided')
        throw new TransactionConflictError(`transaction "${id}" is past its decision to commit`);
      if (outcome === 'failed') {
        throw new TransactionConflictError(
          `transaction "${id}" is failed: it was aborting when its undo calls ran out of attempts; replay it to finish the abort`,
        );
      }
      return this.transactions.current(outcome === 'accepted' ? 202 : 200, id);
    });
  }

  /** Re-drives a `failed` transaction with a fresh retry budget; 409 unless it is failed. */
  async replay(id: string, body: unknown, key: string | undefined, caller: Caller): Promise<Reply> {
    const note = noteOf('replay', body, caller);
    return this.idempotency.run(key, keyedRequestHash(caller.name, 'replay', id, body ?? null), async () => {
      await this.replayOne(id, note);
      return this.transactions.current(202, id);
    });
  }

  /** Calls the branches waiting out a backoff at once; 409 when none waits. */
  async retry(id: string, body: unknown, key: string | undefined, caller: Caller): Promise<Reply> {
    const note = noteOf('retry', body, caller);
    if (!this.engine.drives) {
      // a transaction that does not exist is 404 on every instance
      if (!(await this.store.load(id))) throw new TransactionNotFoundError(id);
      this.assertDrives('retry');
    }
    return this.idempotency.run(key, keyedRequestHash(caller.name, 'retry', id, body ?? null), async () => {
      const outcome = await this.engine.retryNow(id, note);
      if (outcome === 'not-found') throw new TransactionNotFoundError(id);
      if (outcome === 'busy') throw new TransactionBusyError(id, this.engine.paused ? pausedDetail(id) : undefined);
      if (outcome === 'nothing-waits') {
        throw new TransactionConflictError(`transaction "${id}" has no branch waiting to be retried`);
      }
      return this.transactions.current(202, id);
    });
  }

  /**
   * Replays every `failed` transaction matching the filter, a few at a time, and answers each one's
   * outcome; with `dryRun` only lists them. At most MAX_BULK_IDS per request (`truncated` says more match).
   */
  async bulkReplay(body: unknown, key: string | undefined, caller: Caller): Promise<Reply> {
    const request = parse(bulkReplaySchema, body, 'replay');
    return this.idempotency.run(key, keyedRequestHash(caller.name, 'bulk-replay', body), () =>
      this.replayAll(request, caller),
    );
  }

  private async replayAll(request: BulkReplayRequest, caller: Caller): Promise<Reply<BulkReplayResult>> {
    const ids = await this.store.failedIds({ participant: request.participant, ids: request.ids }, MAX_BULK_IDS + 1);
    const truncated = ids.length > MAX_BULK_IDS;
    const matched = ids.slice(0, MAX_BULK_IDS);
    if (request.dryRun)
      return { status: 200, body: { dryRun: true, matched: matched.length, truncated, ids: matched } };
    this.assertDrives('replay');
    const note: OperatorNote = { action: 'replay', actor: caller.name, reason: request.reason };
    const results: NonNullable<BulkReplayResult['results']> = [];
    let next = 0;
    const worker = async () => {
      while (next < matched.length) {
        const id = matched[next++];
        try {
          await this.replayOne(id, note);
          results.push({ id, outcome: 'replayed', detail: null });
        } catch (error) {
          const skipped = error instanceof TransactionConflictError || error instanceof TransactionNotFoundError;
          results.push({ id, outcome: skipped ? 'skipped' : 'error', detail: (error as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: BULK_PACE }, worker));
    results.sort((a, b) => matched.indexOf(a.id) - matched.indexOf(b.id));
    // ids asked for by name and left out are answered too, with why: not failed (or no such
    // transaction), or failed but without the participant asked for
    const left = (request.ids ?? []).filter((id) => !matched.includes(id) && !results.some((r) => r.id === id));
    const failedElsewhere =
      request.participant && left.length > 0 ? await this.store.failedIds({ ids: left }, left.length) : [];
    const statuses = await Promise.all(
      left.map(async (id) =>
        failedElsewhere.includes(id) ? null : ((await this.store.load(id))?.txn.status ?? 'missing'),
      ),
    );
    left.forEach((id, i) => {
      const status = statuses[i];
      const detail =
        status === null
          ? `failed, but participant "${request.participant}" has no branch in it`
          : status === 'missing'
            ? 'no transaction with this id'
            : `not a failed transaction: it is ${status}`;
      results.push({ id, outcome: 'skipped', detail });
    });
    return { status: 200, body: { dryRun: false, matched: matched.length, truncated, results } };
  }

  /** Replay and retry re-drive a transaction here: an instance that drives none cannot (ROLE=api). */
  private assertDrives(action: string): void {
    if (!this.engine.drives) {
      throw new TransactionConflictError(
        `this instance runs with ROLE=api and drives no transaction: ${action} through an instance with ROLE=all`,
      );
    }
  }

  private async replayOne(id: string, note: OperatorNote): Promise<void> {
    const row = await this.store.load(id);
    if (!row) throw new TransactionNotFoundError(id);
    this.assertDrives('replay');
    if (row.txn.status !== TransactionStatus.Failed) {
      throw new TransactionConflictError(
        `transaction "${id}" is ${row.txn.status}; only a failed transaction can be replayed`,
      );
    }
    if (!(await this.engine.replay(id, note))) {
      // nothing done either way; only a paused instance's refusal is worth sending again
      if (this.engine.paused) throw new TransactionBusyError(id, pausedDetail(id));
      throw new TransactionConflictError(`transaction "${id}" is already being replayed`);
    }
  }
}

/** Why a paused instance did nothing (see EngineService.fence). */
function pausedDetail(id: string): string {
  return `transaction "${id}": this instance has paused driving while its heartbeat to the log is overdue; nothing was done, send it again`;
}

function noteOf(action: OperatorNote['action'], body: unknown, caller: Caller): OperatorNote {
  const request = parse(operatorActionSchema, body, 'body');
  return { action, actor: caller.name, reason: request.reason ?? null };
}
