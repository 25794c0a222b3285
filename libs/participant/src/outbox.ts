import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { CheckState, coordinatorBaseUrl, Limits, Phase, type CheckReply } from '#contracts';
import { phasePath } from './phase-route';

/** The default table of the outbox's markers. */
export const DEFAULT_OUTBOX_TABLE = 'txc_outbox';
/** Where the SDK serves a sender's check by default: `/msg/check`. */
export const DEFAULT_CHECK_PATH = phasePath({ phase: Phase.Check });

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;
/** Postgres' unique_violation: the marker's row was taken (by a check that answered rolledback). */
const UNIQUE_VIOLATION = '23505';
/** Raised at the commit of a sender past its message's deadline (see {@link Outbox.ddl}). */
const LATE_COMMIT = 'TXC01';

/** Anything that runs SQL outside a transaction: a TypeORM DataSource or a pg Pool. */
export interface SqlRunner {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}

/** What answers a message's check (the outbox; the dispatcher and broker routes use it). */
export interface CheckResponder {
  check(transactionId: string, call?: CheckCall): Promise<CheckReply>;
}

/** The check call as the coordinator sent it. */
export interface CheckCall {
  /** When the coordinator stops waiting for this answer (the envelope's `deadline`, ISO time). */
  deadline?: string;
}

/** The longest a check waits for an open sender transaction when its call names no deadline. */
const CHECK_WAIT_DEFAULT_MS = 5_000;
/** The longest a check waits for an open sender transaction, whatever its deadline. */
const CHECK_WAIT_MAX_MS = 30_000;
/** How much sooner than its call's deadline a check gives up waiting: its answer must still get there. */
const CHECK_ANSWER_MARGIN_MS = 250;
/** Postgres `lock_not_available`: the wait for the sender's marker ran out. */
const LOCK_NOT_AVAILABLE = '55P03';

/** One consumer delivery of a message (a branch of the `msg` transaction). */
export interface MessageDelivery {
  id: string;
  participant: string;
  payload?: unknown;
  dependsOn?: string[];
  /** `{action: "/msg/reserve/action"}`; default `/msg/action`. */
  paths?: { action?: string | null };
}

/** A message as the sender writes it. */
export interface OutboxMessage {
  /** The message's transaction id; default a random UUID. */
  id?: string;
  /** Its deliveries: in order, or as a DAG when any has `dependsOn`. */
  deliveries: MessageDelivery[];
  checkAfterMs?: number;
  timeoutMs?: number;
  retry?: { maxAttempts?: number; initialBackoffMs?: number; maxBackoffMs?: number };
}

/** A message prepared at the coordinator, its marker written in the sender's open transaction. */
export interface PreparedMessage {
  id: string;
  /** Starts delivery; call it after the local transaction committed (idempotent). */
  submit(): Promise<void>;
}

/** How an {@link Outbox} reaches the coordinator and where it keeps its markers. */
export interface OutboxOptions {
  /** The coordinator's base URL, e.g. `http://127.0.0.1:7070`. */
  coordinatorUrl: string;
  /** The sender's participant name: the coordinator asks its check endpoint. */
  participant: string;
  /** Where the check is served on that participant; default `/msg/check`. */
  checkPath?: string;
  /** Sent as `Authorization: Bearer <apiKey>` (a `client` key). */
  apiKey?: string;
  /** Marker table, optionally schema-qualified; default `txc_outbox`. */
  table?: string;
  /** Runs the check's own statements (outside any sender transaction). */
  db: SqlRunner;
  /**
   * Told about a submit that failed after the commit: the check delivers the message, unless the
   * coordinator refused it (409: aborted meanwhile, by hand or at its deadline), which needs a
   * person. Default: one line on stderr.
   */
  onError?: (error: unknown, messageId: string) => void;
  /** The HTTP client; default the global `fetch`. */
  fetch?: typeof fetch;
}

/** The coordinator refused or failed a call of the outbox. */
export class OutboxError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
    this.name = 'OutboxError';
  }
}

/**
 * The sender's side of a reliable message (DTM's two-phase message, with its check settled by the
 * marker): `send(manager, message)` inside the sender's local transaction writes the message's
 * marker row (`committed`) through that transaction and prepares the message at the coordinator;
 * after the local commit, `submit` starts delivery. The coordinator's check (of a message never
 * submitted: the sender crashed, or its submit was lost) is answered by {@link check}, which inserts
 * a `rolledback` marker unless the sender's is there: while the sender's transaction is still open
 * the insert waits for it, and once the `rolledback` marker is in, a late commit of the sender
 * fails on it. So the check's answer is the truth: `committed` exactly when the sender's transaction
 * committed, and a sender that crashes between its commit and its submit loses nothing.
 */
export class Outbox implements CheckResponder {
  readonly table: string;
  readonly checkPath: string;
  private readonly fetch: typeof fetch;
  /** The coordinator's base URL, checked once at construction. */
  private readonly coordinator: string;

  constructor(private readonly options: OutboxOptions) {
    this.table = options.table ?? DEFAULT_OUTBOX_TABLE;
    if (!IDENTIFIER.test(this.table)) throw new TypeError(`invalid outbox table name: ${JSON.stringify(this.table)}`);
    this.checkPath = options.checkPath ?? DEFAULT_CHECK_PATH;
    this.fetch = options.fetch ?? fetch;
    this.coordinator = coordinatorBaseUrl(options.coordinatorUrl);
  }

  /**
   * The idempotent DDL of the marker table (one text of several statements). A sender's marker
   * carries `commit_before`, its message's deadline as the sender's database tells time: a deferred
   * trigger fails the sender's COMMIT past it (SQLSTATE TXC01). The coordinator gives up on a
   * message still prepared at its deadline once no check answers, and a check can stay blocked on an
   * open sender transaction past its own timeout; without this, a sender committing later would
   * keep its order while the message was aborted.
   */
  static ddl(table: string = DEFAULT_OUTBOX_TABLE): string {
    if (!IDENTIFIER.test(table)) throw new TypeError(`invalid outbox table name: ${JSON.stringify(table)}`);
    const guard = `${table}_late_commit`;
    const trigger = `${table.split('.').pop()}_late_commit`;
    return `CREATE TABLE IF NOT EXISTS ${table} (
  transaction_id text PRIMARY KEY,
  state text NOT NULL CHECK (state IN ('committed', 'rolledback')),
  created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS commit_before timestamptz;
CREATE OR REPLACE FUNCTION ${guard}() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF NEW.commit_before IS NOT NULL AND clock_timestamp() > NEW.commit_before THEN
    RAISE EXCEPTION 'message % is committed past its deadline %: the coordinator may have aborted it',
      NEW.transaction_id, NEW.commit_before USING ERRCODE = '${LATE_COMMIT}';
  END IF;
  RETURN NULL;
END $f$;
DO $d$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '${trigger}' AND tgrelid = '${table}'::regclass) THEN
    CREATE CONSTRAINT TRIGGER ${trigger} AFTER INSERT ON ${table}
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${guard}();
  END IF;
END $d$`;
  }

  /** Creates the marker table if it does not exist. */
  async install(): Promise<void> {
    await this.options.db.query(Outbox.ddl(this.table));
  }

  /**
   * Inside the sender's open transaction (`manager` is bound to it: a TypeORM EntityManager, or a pg
   * client that has BEGUN): writes the marker, then prepares
   * the message at the coordinator. Throws if either fails, so the caller's transaction rolls back
   * (a message prepared whose marker never commits is aborted by its check). Submit after the commit.
   */
  async send(manager: EntityManager | SqlRunner, message: OutboxMessage): Promise<PreparedMessage> {
    const id = message.id ?? randomUUID();
    // the marker first: a check arriving while this transaction is open waits for its outcome
    // its deadline as this database tells time, from this transaction's start: a little before the
    // coordinator's, which counts from the prepare below
    const timeoutMs = message.timeoutMs ?? Limits.defaultTimeoutMs;
    try {
      await manager.query(
        `INSERT INTO ${this.table} (transaction_id, state, commit_before)
           VALUES ($1, $2, now() + $3 * interval '1 millisecond')`,
        [id, CheckState.Committed, timeoutMs],
      );
    } catch (error) {
      throw await this.alreadySent(id, error);
    }
    await this.prepare(id, message);
    return { id, submit: () => this.submit(id) };
  }

  /**
   * Runs `work` in one local transaction of `dataSource`, in which `send` writes messages; once it
   * committed, submits them. A failed submit is only reported (`onError`): the check delivers the
   * message. Resolves with `work`'s result.
   */
  async transaction<T>(
    dataSource: DataSource,
    work: (manager: EntityManager, send: (message: OutboxMessage) => Promise<PreparedMessage>) => Promise<T>,
  ): Promise<T> {
    const sent: PreparedMessage[] = [];
    const result = await dataSource.transaction(async (manager) =>
      work(manager, async (message) => {
        const prepared = await this.send(manager, message);
        sent.push(prepared);
        return prepared;
      }),
    );
    const report = this.options.onError ?? reportFailedSubmit;
    await Promise.all(sent.map((m) => m.submit().catch((error: unknown) => report(error, m.id))));
    return result;
  }

  /** Starts delivery of a prepared message whose sender committed (idempotent). */
  async submit(id: string): Promise<void> {
    await this.post(`/v1/transactions/${encodeURIComponent(id)}/submit`, {});
  }

  /**
   * The check's answer for message `transactionId`: `committed` if the sender's transaction
   * committed its marker; otherwise `rolledback`, written now so that the sender's transaction, if it
   * is still open and ever tries to commit its marker, fails instead.
   */
  async check(transactionId: string, call: CheckCall = {}): Promise<CheckReply> {
    // waits while a sender transaction holding this marker uncommitted is open; then conflicts (it
    // committed) or inserts (it rolled back, or never wrote one). The wait ends when the coordinator
    // stops waiting for the answer (`lock_timeout`, set for this statement's own transaction): a
    // sender left open would otherwise keep every retried check on a connection of the pool, until
    // the participant had none left for anything else. Still open then: `pending`, asked again later.
    try {
      await this.options.db.query(
        `WITH bound AS (SELECT set_config('lock_timeout', $3, true))
         INSERT INTO ${this.table} (transaction_id, state) SELECT $1, $2 FROM bound
           ON CONFLICT (transaction_id) DO NOTHING`,
        [transactionId, CheckState.RolledBack, `${checkWaitMs(call)}ms`],
      );
    } catch (error) {
      if ((error as { code?: unknown } | null)?.code === LOCK_NOT_AVAILABLE) return { state: CheckState.Pending };
      throw error;
    }
    const state = await this.markerState(transactionId);
    return { state: state === CheckState.Committed ? CheckState.Committed : CheckState.RolledBack };
  }

  /** The committed marker's state for message `id` (null: none), read outside any sender's transaction. */
  private async markerState(id: string): Promise<string | null> {
    const found = await this.options.db.query(`SELECT state FROM ${this.table} WHERE transaction_id = $1`, [id]);
    // a pg Pool answers { rows }, a TypeORM DataSource the rows themselves
    const rows = (Array.isArray(found) ? found : (found as { rows: unknown[] }).rows) as { state: string }[];
    return rows[0]?.state ?? null;
  }

  /**
   * Whether `error` is a sender's write or commit refused because the message is lost: a check's
   * `rolledback` marker was there first, or the commit came past the message's deadline.
   */
  static isLostToCheck(error: unknown): boolean {
    const code = (error as { code?: unknown } | null)?.code;
    return code === UNIQUE_VIOLATION || code === LATE_COMMIT;
  }

  /**
   * What a marker insert that failed with `error` means: a committed marker of the same id is a
   * message this service already sent (an order retried with its message id), refused as the
   * coordinator's `committed` or `running` would be; anything else (the check's `rolledback` marker
   * first: lost to the check) is `error` itself.
   */
  private async alreadySent(id: string, error: unknown): Promise<unknown> {
    if ((error as { code?: unknown } | null)?.code !== UNIQUE_VIOLATION) return error;
    // read on a connection of its own: the sender's transaction is aborted by the failed insert
    if ((await this.markerState(id).catch(() => null)) !== CheckState.Committed) return error;
    return new OutboxError(`message "${id}" was already sent: its marker is committed (send it under a new id)`, 409);
  }

  /**
   * Prepares message `id`. A repeat of an id the coordinator already has is answered with that
   * message as it is now: anything but `prepared` or `pending` (aborted by its check, by hand or at its deadline;
   * or already submitted) would not be delivered by this transaction's commit, so it is refused
   * and the sender's transaction rolls back instead of committing an order without its message.
   */
  private async prepare(id: string, message: OutboxMessage): Promise<void> {
    const answer = await this.post('/v1/transactions', {
      id,
      protocol: 'msg',
      mode: 'prepared',
      check: { participant: this.options.participant, path: this.checkPath },
      ...(message.checkAfterMs === undefined ? {} : { checkAfterMs: message.checkAfterMs }),
      ...(message.timeoutMs === undefined ? {} : { timeoutMs: message.timeoutMs }),
      ...(message.retry === undefined ? {} : { retry: message.retry }),
      branches: message.deliveries.map((d) => ({ ...d, ...(d.paths ? { paths: { ...d.paths } } : {}) })),
    });
    const status = (answer as { status?: unknown } | null)?.status;
    // `pending`: written by an instance that serves the API only (ROLE=api), prepared by a worker next
    if (status !== 'prepared' && status !== 'pending') {
      throw new OutboxError(
        `message "${id}" is ${String(status)} at the coordinator, not prepared: this commit would not deliver it (send it under a new id)`,
        409,
      );
    }
  }

  /** POSTs `body` as JSON; resolves with the answer's JSON body (null if it has none). */
  private async post(path: string, body: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await this.fetch(this.coordinator + path, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new OutboxError(`POST ${path}: ${(error as Error).message}`, null);
    }
    if (res.status >= 300) {
      const text = await res.text().catch(() => '');
      throw new OutboxError(`POST ${path}: ${res.status} ${text.slice(0, 500)}`, res.status);
    }
    const text = await res.text().catch(() => '');
    try {
      return text ? JSON.parse(text) : null;
    } catch {
      return null;
    }
  }
}

function reportFailedSubmit(error: unknown, messageId: string): void {
  console.error(`txc outbox: message "${messageId}" was committed but its submit failed: ${String(error)}`);
}

/** How long a check may wait for an open sender: until just before its call's deadline, within bounds. */
function checkWaitMs(call: CheckCall): number {
  const deadline = call.deadline === undefined ? Number.NaN : Date.parse(call.deadline);
  if (Number.isNaN(deadline)) return CHECK_WAIT_DEFAULT_MS;
  return Math.max(1, Math.min(CHECK_WAIT_MAX_MS, deadline - Date.now() - CHECK_ANSWER_MARGIN_MS));
}
