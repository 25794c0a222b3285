import type { Pool, PoolClient } from 'pg';
import type { Attention } from '#contracts';
import { announcementOf, toWire } from './apply-wire';
import { TEXT_KEY, bodyOfStored } from './stored-body';
import { ACTIVE_SQL, ATTENTION_FILTER, ATTENTION_SQL, ATTENTION_STATUSES } from './attention-sql';
import { LogWriter } from './log-writer';
import { ORPHAN_SCAN_BEGIN, orphanScanSql } from './orphan-sql';
import { inTransaction } from './pg-transaction';
import { isRolledBack } from './store-errors';
import { BRANCH_COLUMNS, TXN_COLUMNS, toBranch, toTransaction } from './store-rows';
import type {
  BranchRecord,
  EventRecord,
  IdempotencyRecord,
  KeyClaimOptions,
  ListFilter,
  LoadedTransaction,
  StoreOp,
  StatusChange,
  StoreResult,
  TransactionRecord,
  TransactionStore,
} from './transaction-store';

type Queryable = Pool | PoolClient;

/** The Postgres NOTIFY channel of transaction status changes (the live stream). */
export const STREAM_CHANNEL = 'txc_stream';

/**
 * The log's group commit: one flush at a time, a second only while the one in flight has been out
 * for 50 ms (a stalled connection must not stall the log). Commits that NOTIFY the stream are
 * serialized by Postgres anyway, so a second flush mostly waited on the first; one at a time halves
 * the commits per saga and with them a quarter to a third of the Postgres CPU (bench/RESULTS.md).
 */
export const LOG_BATCHING = { maxBatch: 256, maxConcurrentFlushes: 2, slowFlushMs: 50 };

/** {@link TransactionStore} on node-postgres. State changes go through `txc_apply` in group-committed batches. */
export class PgTransactionStore implements TransactionStore {
  private readonly writer: LogWriter<{ wire: unknown; announce: string | null }, StoreResult>;

  constructor(
    private readonly pool: Pool,
    batching: { maxBatch: number; maxConcurrentFlushes: number; slowFlushMs?: number } = LOG_BATCHING,
  ) {
    this.writer = new LogWriter(
      async (ops: { wire: unknown; announce: string | null }[]) => {
        const wire = JSON.stringify(ops.map((o) => o.wire));
        const announce = ops.map((o) => o.announce);
        // status changes are announced (NOTIFY) by the statement that commits them, for the ops that
        // took effect: the live stream costs no query of its own, and tells only what is durable
        const { rows } = announce.some((a) => a !== null)
          ? await this.pool.query<{ r: string[] }>(
              `SELECT s.r, (SELECT count(pg_notify('${STREAM_CHANNEL}', a.n)) FROM unnest($2::text[]) WITH ORDINALITY AS a(n, i)
                  WHERE a.n IS NOT NULL AND s.r->>(a.i::int - 1) IN ('ok', 'ok:abort-requested')) AS notified
                 FROM (SELECT txc_apply($1::jsonb) AS r) s`,
              [wire, announce],
            )
          : await this.pool.query<{ r: string[] }>('SELECT txc_apply($1::jsonb) AS r', [wire]);
        return rows[0].r.map((r) => (r === 'ok:abort-requested' ? 'abort-requested' : (r as StoreResult)));
      },
      batching,
      isRolledBack,
    );
  }

  /** Ops waiting for the log writer's next flush. */
  get backlog(): number {
    return this.writer.backlog;
  }

  /** Tells `listener` the size of each group-commit batch as it is written. */
  observeBatches(listener: (size: number) => void): void {
    this.writer.onBatch = listener;
  }

  apply(op: StoreOp): Promise<StoreResult> {
    return this.writer.submit(logOp(op));
  }

  applyBuiltAtCut(build: () => StoreOp): Promise<StoreResult> {
    return this.writer.submitBuiltAtCut(() => logOp(build()));
  }

  async load(id: string): Promise<LoadedTransaction | null> {
    const { rows } = await this.pool.query(`SELECT ${TXN_COLUMNS} FROM txc_transactions WHERE id = $1`, [id]);
    return rows.length ? this.withBranches(toTransaction(rows[0])) : null;
  }

  async snapshot(id: string): Promise<{ loaded: LoadedTransaction; events: EventRecord[] } | null> {
    // one read-only snapshot: the row, its branches and its events as of the same commit, so a view
    // never shows a branch retrying without the failed attempt that made it so
    return inTransaction(this.pool, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', async (client) => {
      const { rows } = await client.query(`SELECT ${TXN_COLUMNS} FROM txc_transactions WHERE id = $1`, [id]);
      const loaded = rows.length ? await this.withBranches(toTransaction(rows[0]), client) : null;
      const events = loaded ? await this.events(id, client) : [];
      return loaded && { loaded, events };
    });
  }

  async events(id: string, on: Queryable = this.pool): Promise<EventRecord[]> {
    const { rows } = await on.query(
      `SELECT seq, at, type, branch_id, phase, attempt, outcome, detail FROM txc_events
        WHERE transaction_id = $1 ORDER BY seq`,
      [id],
    );
    return rows.map((r) => ({
      seq: r.seq,
      at: r.at,
      type: r.type,
      branchId: r.branch_id,
      phase: r.phase,
      attempt: r.attempt,
      outcome: r.outcome,
      detail: r.detail,
    }));
  }

  async claim(
    id: string,
    instanceId: string,
    deadOwners: string[],
    options: ClaimOptions = {},
  ): Promise<LoadedTransaction | null> {
    const { rows } = await this.pool.query(
      `UPDATE txc_transactions SET owner = $2, version = version + 1, updated_at = now()
        WHERE id = $1 AND ${claimable(options)} RETURNING ${TXN_COLUMNS}`,
      [id, instanceId, deadOwners, options.stuckAfterMs ?? null],
    );
    return rows.length ? this.withBranches(toTransaction(rows[0])) : null;
  }

  async claimMany(
    ids: string[],
    instanceId: string,
    deadOwners: string[],
    options: ClaimOptions = {},
  ): Promise<LoadedTransaction[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.pool.query(
      `UPDATE txc_transactions SET owner = $2, version = version + 1, updated_at = now()
        WHERE id = ANY($1::text[]) AND ${claimable(options)} RETURNING ${TXN_COLUMNS}`,
      [ids, instanceId, deadOwners, options.stuckAfterMs ?? null],
    );
    if (rows.length === 0) return [];
    const claimed = rows.map(toTransaction);
    const taken = claimed.map((t) => t.id);
    const [branches, seqs] = await Promise.all([
      this.pool.query(
        `SELECT transaction_id, ${BRANCH_COLUMNS} FROM txc_branches
          WHERE transaction_id = ANY($1::text[]) ORDER BY transaction_id, position`,
        [taken],
      ),
      this.pool.query<{ transaction_id: string; seq: number | null }>(
        `SELECT transaction_id, max(seq) AS seq FROM txc_events WHERE transaction_id = ANY($1::text[]) GROUP BY 1`,
        [taken],
      ),
    ]);
    const branchesOf = new Map<string, BranchRecord[]>();
    for (const r of branches.rows) {
      const list = branchesOf.get(r.transaction_id) ?? [];
      list.push(toBranch(r));
      branchesOf.set(r.transaction_id, list);
    }
    const seqOf = new Map(seqs.rows.map((r) => [r.transaction_id, r.seq ?? 0]));
    return claimed.map((txn) => ({ txn, branches: branchesOf.get(txn.id) ?? [], lastSeq: seqOf.get(txn.id) ?? 0 }));
  }

  async findOrphans(
    deadOwners: string[],
    limit: number,
    stuck?: { self: string; selfGraceMs: number; stuckAfterMs: number },
  ): Promise<{ id: string; owner: string | null; stalled: boolean }[]> {
    const { rows } = await inTransaction(this.pool, ORPHAN_SCAN_BEGIN, (client) =>
      client.query<{ id: string; owner: string | null; stalled: boolean }>(
        orphanScanSql(stuck !== undefined),
        stuck ? [deadOwners, limit, stuck.stuckAfterMs, stuck.self, stuck.selfGraceMs] : [deadOwners, limit, null],
      ),
    );
    return rows.map((r) => ({ id: r.id, owner: r.owner, stalled: r.stalled === true }));
  }

  async requestAbort(
    id: string,
    note: Record<string, unknown> | null = null,
  ): Promise<'flagged' | 'already' | 'decided'> {
    // one statement: flagged now, or why not (a flag already there keeps its first note)
    const { rows } = await this.pool.query(
      `WITH flagged AS (
         UPDATE txc_transactions SET abort_requested = true, abort_note = $2, wake_at = now()
          WHERE id = $1 AND status IN ('pending', 'prepared', 'running') AND decision IS NULL AND NOT abort_requested
          RETURNING 1)
       SELECT EXISTS (SELECT 1 FROM flagged) AS flagged,
              EXISTS (SELECT 1 FROM txc_transactions WHERE id = $1 AND abort_requested
                        AND status IN ('pending', 'prepared', 'running') AND decision IS NULL) AS already`,
      [id, note],
    );
    return rows[0].flagged ? 'flagged' : rows[0].already ? 'already' : 'decided';
  }

  async abortReason(id: string): Promise<string | null> {
    const { rows } = await this.pool.query(
      `SELECT detail->>'error' AS error FROM txc_events WHERE transaction_id = $1 AND type = 'transaction.aborting'
        ORDER BY seq DESC LIMIT 1`,
      [id],
    );
    return rows[0]?.error ?? null;
  }

  async abortNote(id: string): Promise<Record<string, unknown> | null> {
    const { rows } = await this.pool.query('SELECT abort_note FROM txc_transactions WHERE id = $1', [id]);
    return rows[0]?.abort_note ?? null;
  }

  async changedSince(
    since: Date,
    limit: number,
    after?: { at: string; id: string },
  ): Promise<{ change: StatusChange; at: string }[]> {
    // `at` is updated_at as Postgres prints it (microseconds kept): a Date would round it to the
    // millisecond, and the keyset would then return the last row of a page again
    const { rows } = await this.pool.query(
      `SELECT id, protocol, status, updated_at, updated_at::text AS at FROM txc_transactions
        WHERE updated_at >= $1 AND ($3::timestamptz IS NULL OR (updated_at, id) > ($3::timestamptz, $4::text))
        ORDER BY updated_at, id LIMIT $2`,
      [since, limit, after?.at ?? null, after?.id ?? null],
    );
    return rows.map((r) => ({
      change: { id: r.id, protocol: r.protocol, status: r.status, updatedAt: r.updated_at.toISOString() },
      at: r.at,
    }));
  }

  async countChangedSince(since: Date, cap: number): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM txc_transactions WHERE updated_at >= $1 LIMIT $2) AS changed`,
      [since, cap],
    );
    return rows[0].n;
  }

  async countsByParticipant(name?: string): Promise<Map<string, { inFlight: number; failed: number }>> {
    const { rows } = await this.pool.query<{ participant: string; in_flight: number; failed: number }>(
      `SELECT p AS participant, count(*) FILTER (WHERE status <> 'failed')::int AS in_flight,
              count(*) FILTER (WHERE status = 'failed')::int AS failed
         FROM txc_transactions, unnest(participants) AS p
        WHERE status IN ('pending', 'prepared', 'running', 'committing', 'aborting', 'failed')
          AND ($1::text IS NULL OR participants @> ARRAY[$1::text]) AND ($1::text IS NULL OR p = $1) GROUP BY 1`,
      [name ?? null],
    );
    return new Map(rows.map((r) => [r.participant, { inFlight: r.in_flight, failed: r.failed }]));
  }

  async failedIds(filter: { participant?: string; ids?: string[] }, limit: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ id: string }>(
      `SELECT id FROM txc_transactions
        WHERE status = 'failed' AND ($1::text IS NULL OR participants @> ARRAY[$1::text])
          AND ($2::text[] IS NULL OR id = ANY($2::text[]))
        ORDER BY created_at, id LIMIT $3`,
      [filter.participant ?? null, filter.ids ?? null, limit],
    );
    return rows.map((r) => r.id);
  }

  async list(filter: ListFilter): Promise<(TransactionRecord & { attention: Attention })[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    // the statuses asked for, or those of the attention state asked for (whose filter keeps its own)
    const statuses = filter.statuses?.length
      ? [...new Set(filter.statuses)]
      : filter.attention
        ? ATTENTION_STATUSES[filter.attention]
        : null;
    if (filter.attention) where.push(ATTENTION_FILTER[filter.attention]);
    if (filter.protocol) where.push(`t.protocol = ${param(filter.protocol)}`);
    if (filter.participant) where.push(`t.participants @> ARRAY[${param(filter.participant)}]::text[]`);
    if (filter.from) where.push(`t.created_at >= ${param(filter.from)}`);
    if (filter.to) where.push(`t.created_at < ${param(filter.to)}`);
    if (filter.q) {
      // an id, an id prefix, or an Idempotency-Key: the transaction its start created, or the one
      // its answer was (a start of an id taken first, an operator call)
      const q = param(filter.q);
      // (a stored body is its JSON text in a wrapper: see stored-body.ts)
      const keyed = `SELECT COALESCE(k.transaction_id, CASE WHEN jsonb_typeof(a.body) = 'object' AND a.body ? 'protocol'
                       THEN a.body->>'id' END)
                       FROM txc_idempotency_keys k,
                            LATERAL (SELECT COALESCE((k.response_body->>'${TEXT_KEY}')::jsonb, k.response_body) AS body) a
                      WHERE k.key = ${q}`;
      where.push(`(t.id LIKE ${param(likePrefix(filter.q))} OR t.id = (${keyed}))`);
    }
    if (filter.after) {
      where.push(`(t.created_at, t.id) < (${param(filter.after.createdAt)}, ${param(filter.after.id)})`);
    }
    const newest = `ORDER BY t.created_at DESC, t.id DESC LIMIT ${param(filter.limit)}`;
    const page = (and: string[]) =>
      `SELECT ${TXN_COLUMNS.replace(/(\w+)/g, 't.$1')}
         FROM txc_transactions t ${and.length ? `WHERE ${and.join(' AND ')}` : ''} ${newest}`;
    // several statuses: a page per status, each read in the status index's order, then merged
    // (Postgres reads an index in order for one value, not across a list: it fetched and sorted
    // every match, every in-flight transaction for the dashboard's in-flight list)
    const pages = !statuses
      ? page(where)
      : statuses.length === 1
        ? page([`t.status = ${param(statuses[0])}`, ...where])
        : `SELECT t.* FROM (${statuses.map((s) => `(${page([`t.status = ${param(s)}`, ...where])})`).join(' UNION ALL ')}) t ${newest}`;
    // attention is computed over the page's rows only, outside the LIMIT: computed beside the scan,
    // the planner expected a call per row of the log and hashed all retrying branches up front
    const { rows } = await this.pool.query(
      `SELECT t.*, ${ATTENTION_SQL} AS attention FROM (${pages}) t ORDER BY t.created_at DESC, t.id DESC`,
      params,
    );
    return rows.map((r) => ({ ...toTransaction(r), attention: r.attention }));
  }

  async findIdempotencyKey(key: string): Promise<IdempotencyRecord | null> {
    const { rows } = await this.pool.query(
      `SELECT key, request_hash, transaction_id, extract(epoch FROM now() - created_at)::float8 AS age,
          holder, response_status, response_body, response_headers FROM txc_idempotency_keys
        WHERE key = $1 AND expires_at > now()`,
      [key],
    );
    if (!rows.length) return null;
    const r = rows[0];
    return {
      key: r.key,
      requestHash: r.request_hash,
      transactionId: r.transaction_id,
      ageSeconds: r.age,
      holder: r.holder,
      responseStatus: r.response_status,
      responseBody: bodyOfStored(r.response_body),
      responseHeaders: r.response_headers,
    };
  }

  async claimIdempotencyKey(
    key: string,
    requestHash: string,
    expiresAt: Date,
    options: KeyClaimOptions = {},
  ): Promise<boolean> {
    // an expired row still in place (the sweeper has not dropped it yet) is taken over, and so is a
    // claim of the same request that never got its answer and never will: stale, or its holder dead
    // (a start's is answered from the log instead)
    const { rowCount } = await this.pool.query(
      `INSERT INTO txc_idempotency_keys (key, request_hash, expires_at, holder) VALUES ($1, $2, $3, $5)
        ON CONFLICT (key) DO UPDATE SET request_hash = EXCLUDED.request_hash, expires_at = EXCLUDED.expires_at,
          created_at = now(), response_status = NULL, response_body = NULL, response_headers = NULL,
          transaction_id = NULL, holder = EXCLUDED.holder
        WHERE txc_idempotency_keys.expires_at <= now()
           OR ($4::float8 IS NOT NULL AND txc_idempotency_keys.response_status IS NULL
               AND txc_idempotency_keys.transaction_id IS NULL
               AND txc_idempotency_keys.request_hash = EXCLUDED.request_hash
               AND (txc_idempotency_keys.created_at < now() - make_interval(secs => $4::float8 / 1000)
                    OR txc_idempotency_keys.holder = ANY($6::text[])))`,
      [key, requestHash, expiresAt, options.staleAfterMs ?? null, options.holder ?? null, options.deadHolders ?? []],
    );
    return rowCount === 1;
  }

  async releaseIdempotencyKey(key: string): Promise<void> {
    await this.pool.query(`DELETE FROM txc_idempotency_keys WHERE key = $1 AND response_status IS NULL`, [key]);
  }

  async expireIdempotencyKeys(): Promise<number> {
    const { rowCount } = await this.pool.query(`DELETE FROM txc_idempotency_keys WHERE expires_at <= now()`);
    return rowCount ?? 0;
  }

  async heartbeat(
    instance: { id: string; host: string; pid: number; processScope?: string | null; drives?: boolean },
    ttlMs: number,
  ): Promise<string[]> {
    await this.pool.query(
      `INSERT INTO txc_instances (id, host, pid, process_scope, drives) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`,
      [instance.id, instance.host, instance.pid, instance.processScope ?? null, instance.drives ?? true],
    );
    // an instance row is forgotten once it is long dead and owns nothing
    await this.pool.query(
      `DELETE FROM txc_instances i WHERE heartbeat_at < now() - interval '1 hour'
        AND NOT EXISTS (SELECT 1 FROM txc_transactions t WHERE t.owner = i.id)`,
    );
    // the owners are read by skipping through the owner index, one probe per distinct owner: a plain
    // DISTINCT is planned from statistics, and on a young or fast-growing log stale ones made it a
    // sequential scan of every transaction on every beat
    const { rows } = await this.pool.query<{ id: string }>(
      `WITH RECURSIVE owners AS (
         SELECT min(owner) AS owner FROM txc_transactions WHERE owner IS NOT NULL
         UNION ALL
         SELECT (SELECT min(t.owner) FROM txc_transactions t WHERE t.owner > o.owner) FROM owners o WHERE o.owner IS NOT NULL
       )
       SELECT id FROM txc_instances WHERE heartbeat_at < now() - make_interval(secs => $1::float8 / 1000)
       UNION SELECT owner FROM owners o WHERE owner IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM txc_instances i WHERE i.id = o.owner)`,
      [ttlMs],
    );
    return rows.map((r) => r.id);
  }

  async instancesInScope(processScope: string, selfId: string): Promise<{ id: string; pid: number }[]> {
    const { rows } = await this.pool.query<{ id: string; pid: number }>(
      'SELECT id, pid FROM txc_instances WHERE process_scope = $1 AND id <> $2',
      [processScope, selfId],
    );
    return rows;
  }

  async releaseAll(instanceId: string): Promise<number> {
    const { rowCount } = await this.pool.query(
      `UPDATE txc_transactions SET owner = NULL, version = version + 1, wake_at = now() WHERE owner = $1`,
      [instanceId],
    );
    return rowCount ?? 0;
  }

  /** The branches and last seq of `txn`: in parallel on the pool, one after the other on a client. */
  private async withBranches(txn: TransactionRecord, on: Queryable = this.pool): Promise<LoadedTransaction> {
    const readBranches = () =>
      on.query(`SELECT ${BRANCH_COLUMNS} FROM txc_branches WHERE transaction_id = $1 ORDER BY position`, [txn.id]);
    const readSeq = () =>
      on.query<{ seq: number | null }>(`SELECT max(seq) AS seq FROM txc_events WHERE transaction_id = $1`, [txn.id]);
    const [branches, seq] =
      on === this.pool ? await Promise.all([readBranches(), readSeq()]) : [await readBranches(), await readSeq()];
    return { txn, branches: branches.rows.map(toBranch), lastSeq: seq.rows[0].seq ?? 0 };
  }
}

type ClaimOptions = { forReplay?: boolean; stuckAfterMs?: number; dueOnly?: boolean };

/**
 * The rows a claim may take (parameters: $2 the claiming instance, $3 dead owners, $4 the stuck
 * threshold in ms; absent, a live owner's row is never taken). See TransactionStore.claim.
 */
function claimable(options: ClaimOptions): string {
  const statuses = options.forReplay ? `('failed')` : ACTIVE_SQL;
  const due = options.dueOnly
    ? `AND (owner IS NOT NULL OR wake_at IS NULL OR wake_at <= now() + interval '1 second' OR abort_requested)`
    : '';
  return `status IN ${statuses}
    AND (owner IS NULL OR owner = $2 OR owner = ANY($3::text[])
      OR updated_at < now() - make_interval(secs => $4::float8 / 1000))
    ${due}`;
}

function likePrefix(q: string): string {
  return `${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** An op as the log writer sends it: its `txc_apply` JSON and its stream announcement. */
function logOp(op: StoreOp) {
  return { wire: toWire(op), announce: announcementOf(op) };
}
