import type { CallOptions, CoordinatorClientOptions, SubmitOptions } from './client-options';
import type {
  ApiKeyView,
  BranchView,
  BulkReplayInput,
  BulkReplayResult,
  CreateKeyRequest,
  CreatedApiKey,
  InteractiveBranchInput,
  OperatorActionRequest,
  ParticipantView,
  RegisterParticipantInput,
  StartTransactionInput,
  StatsView,
  StatsWindow,
  TransactionPage,
  TransactionSummary,
  TransactionView,
  WhoAmI,
} from './contracts';
import { HttpTransport, type HttpRequest } from './http-transport';
import {
  runInteractive,
  type BeginTransactionInput,
  type InteractiveApi,
  type InteractiveCallback,
  type InteractiveOptions,
  type InteractiveProtocol,
} from './interactive-transaction';
import { listQuery, type ListTransactionsFilter } from './list-query';
import { errorFromProblem } from './problem-errors';
import { streamStatusChanges, type StreamOptions, type StreamedStatusChange } from './status-stream';

/** How long a registration asks the coordinator to wait for its branch's vote before a 202. */
const REGISTER_WAIT_MS = 20_000;
import {
  AtomicCommitBuilder,
  MessageBuilder,
  SagaBuilder,
  type MessageOptions,
  type TransactionOptions,
} from './transaction-builders';

/**
 * A path segment. `.` and `..` cannot be sent in a path at all (every URL parser, fetch's too, takes
 * them, encoded or not, as "this folder" and "up one"): refused here as the coordinator refuses
 * them in a body, 422 naming the field, rather than sent to another route.
 */
function enc(value: string, field = 'id'): string {
  if (value === '.' || value === '..') {
    throw errorFromProblem({
      type: '/problems/validation_failed',
      title: 'Unprocessable Entity',
      status: 422,
      detail: `${field} must not be "." or ".."`,
      errors: [{ field, rule: 'must not be "." or ".." (a path segment of its own)' }],
    });
  }
  return encodeURIComponent(value);
}

/**
 * The initiator SDK: one typed method per endpoint of the coordinator's HTTP API, builders for
 * driven transactions, an interactive TCC/2PC helper and the live stream.
 *
 * Every call retries transient failures (connection errors, 503, busy) with backoff; every mutating
 * call carries an `Idempotency-Key` (a fresh UUID per call, reused by its retries), so a retried
 * submit never starts a second transaction. Error answers are thrown as the error classes of
 * libs/contracts (`ValidationError`, `TransactionConflictError`, ...) with the answer's `status`,
 * `detail` and `errors`.
 */
export class CoordinatorClient implements InteractiveApi {
  private readonly http: HttpTransport;

  constructor(options: CoordinatorClientOptions) {
    this.http = new HttpTransport(options);
  }

  // ---- transactions

  /** `POST /v1/transactions`: starts a driven (or begins an interactive) transaction. */
  startTransaction(body: StartTransactionInput, options: SubmitOptions = {}): Promise<TransactionView> {
    return this.send({
      method: 'POST',
      path: '/v1/transactions',
      query: { wait: options.wait },
      body,
      repeat: 'keyed',
      options,
    });
  }

  /** `GET /v1/transactions/{id}`: the transaction, its branches, every attempt and its event log. */
  async getTransaction(id: string, options?: CallOptions): Promise<TransactionView> {
    return this.send({ method: 'GET', path: `/v1/transactions/${enc(id)}`, repeat: 'safe', options });
  }

  /** `GET /v1/transactions`: one page, newest first; pass `cursor: page.nextCursor` for the next. */
  listTransactions(filter?: ListTransactionsFilter, options?: CallOptions): Promise<TransactionPage> {
    return this.send({ method: 'GET', path: '/v1/transactions', query: listQuery(filter), repeat: 'safe', options });
  }

  /** Every transaction matching `filter`, newest first, fetched page by page as the loop asks for more. */
  async *iterateTransactions(
    filter: ListTransactionsFilter = {},
    options?: CallOptions,
  ): AsyncGenerator<TransactionSummary, void, undefined> {
    let cursor = filter.cursor;
    do {
      const page = await this.listTransactions({ ...filter, cursor }, options);
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  /** `POST /v1/transactions/{id}/abort`: aborts before the decision (a `client` key: only its own). */
  abortTransaction(id: string, action: OperatorActionRequest = {}, options?: CallOptions): Promise<TransactionView> {
    return this.operatorAction(id, 'abort', action, options);
  }

  /** `POST /v1/transactions/{id}/replay`: re-drives a `failed` transaction with a fresh retry budget. */
  replayTransaction(id: string, action: OperatorActionRequest = {}, options?: CallOptions): Promise<TransactionView> {
    return this.operatorAction(id, 'replay', action, options);
  }

  /** `POST /v1/transactions/{id}/retry`: calls the branches waiting out a backoff now. */
  retryTransaction(id: string, action: OperatorActionRequest = {}, options?: CallOptions): Promise<TransactionView> {
    return this.operatorAction(id, 'retry', action, options);
  }

  /** `POST /v1/transactions/replay`: replays the matching `failed` transactions (with `dryRun`, only lists them). */
  bulkReplay(body: BulkReplayInput, options?: CallOptions): Promise<BulkReplayResult> {
    return this.send({ method: 'POST', path: '/v1/transactions/replay', body, repeat: 'keyed', options });
  }

  // ---- interactive TCC/2PC, one call at a time (see also `tcc(fn)` and `interactive`)

  /** `POST /v1/transactions` with `mode: interactive`: begins a transaction that takes branches one by one. */
  beginTransaction(input: BeginTransactionInput, options?: CallOptions): Promise<TransactionView> {
    return this.startTransaction({ ...input, mode: 'interactive' }, options);
  }

  /**
   * `POST /v1/transactions/{id}/branches`: registers a branch and delivers its try/prepare. Resolves
   * with the branch when it said yes, or while its answer is still being retried (status `running`);
   * a no rejects with `BranchRejectedError` (the transaction then aborts).
   */
  async registerBranch(
    id: string,
    branch: InteractiveBranchInput,
    options: CallOptions & { wait?: number } = {},
  ): Promise<BranchView> {
    return this.send({
      method: 'POST',
      path: `/v1/transactions/${enc(id)}/branches`,
      // the coordinator waits through the first phase's retries for the vote up to `wait` (its default
      // 60 s), then answers 202; sent, so the try's timeout allows for it
      query: { wait: options.wait ?? REGISTER_WAIT_MS },
      body: branch,
      repeat: 'keyed',
      options,
    });
  }

  /** `POST /v1/transactions/{id}/commit`: decides commit once every branch said yes. */
  async commitTransaction(id: string, options: SubmitOptions = {}): Promise<TransactionView> {
    const path = `/v1/transactions/${enc(id)}/commit`;
    return this.send({ method: 'POST', path, query: { wait: options.wait }, repeat: 'keyed', options });
  }

  /** `POST /v1/transactions/{id}/submit`: a prepared message's sender committed; delivers it (idempotent). */
  async submitMessage(id: string, options: SubmitOptions = {}): Promise<TransactionView> {
    const path = `/v1/transactions/${enc(id)}/submit`;
    return this.send({ method: 'POST', path, query: { wait: options.wait }, repeat: 'keyed', options });
  }

  // ---- builders and helpers

  /**
   * A reliable message: `client.message({ check }).to('inventory', { payload }).prepare()` then
   * `.submit()` on the handle after the local commit; or `.submit()` on the builder to deliver at once.
   */
  message(options: MessageOptions = {}): MessageBuilder {
    return new MessageBuilder(
      options,
      (body, o) => this.startTransaction(body, o),
      (id, o) => this.submitMessage(id, o),
    );
  }

  /** A saga builder: `client.saga().step('accounts', { payload }).step(...).submit({ wait })`. */
  saga(options: TransactionOptions = {}): SagaBuilder {
    return new SagaBuilder('saga', options, (body, o) => this.startTransaction(body, o));
  }

  /** A driven TCC builder; or, given a callback, runs it in an interactive TCC transaction (see {@link interactive}). */
  tcc(options?: TransactionOptions): AtomicCommitBuilder<'tcc'>;
  tcc(fn: InteractiveCallback, options?: InteractiveOptions): Promise<TransactionView>;
  tcc(
    fnOrOptions?: InteractiveCallback | TransactionOptions,
    options?: InteractiveOptions,
  ): AtomicCommitBuilder<'tcc'> | Promise<TransactionView> {
    if (typeof fnOrOptions === 'function') return this.interactive('tcc', fnOrOptions, options);
    return new AtomicCommitBuilder('tcc', fnOrOptions ?? {}, (body, o) => this.startTransaction(body, o));
  }

  /** A driven 2PC builder; or, given a callback, runs it in an interactive 2PC transaction (see {@link interactive}). */
  twoPhase(options?: TransactionOptions): AtomicCommitBuilder<'2pc'>;
  twoPhase(fn: InteractiveCallback, options?: InteractiveOptions): Promise<TransactionView>;
  twoPhase(
    fnOrOptions?: InteractiveCallback | TransactionOptions,
    options?: InteractiveOptions,
  ): AtomicCommitBuilder<'2pc'> | Promise<TransactionView> {
    if (typeof fnOrOptions === 'function') return this.interactive('2pc', fnOrOptions, options);
    return new AtomicCommitBuilder('2pc', fnOrOptions ?? {}, (body, o) => this.startTransaction(body, o));
  }

  /** A driven 3PC builder. */
  threePhase(options: TransactionOptions = {}): AtomicCommitBuilder<'3pc'> {
    return new AtomicCommitBuilder('3pc', options, (body, o) => this.startTransaction(body, o));
  }

  /**
   * Runs `fn` in an interactive transaction: begins it, commits when `fn` returns, aborts (and
   * rethrows) when it throws. `tx.branch(...)` rejects with `BranchRejectedError` when a branch says no.
   */
  interactive(
    protocol: InteractiveProtocol,
    fn: InteractiveCallback,
    options?: InteractiveOptions,
  ): Promise<TransactionView> {
    return runInteractive(this, protocol, fn, options);
  }

  /**
   * `GET /v1/stream`: the live status changes, as an async iterator that reconnects (resuming with
   * `Last-Event-ID`) after drops. Break out of the loop, or abort `signal`, to close it.
   */
  stream(options?: StreamOptions): AsyncGenerator<StreamedStatusChange, void, undefined> {
    return streamStatusChanges(this.http, options);
  }

  // ---- participants

  /** `POST /v1/participants`: registers a participant, or updates it if the name exists. */
  registerParticipant(body: RegisterParticipantInput, options?: CallOptions): Promise<ParticipantView> {
    return this.send({ method: 'POST', path: '/v1/participants', body, repeat: 'keyed', options });
  }

  /**
   * `POST /v1/participants/{name}/heartbeat`: extends the lease of instance `options.instanceId`,
   * or without one of the instances registered without one (named by their URL).
   */
  async heartbeat(name: string, options?: CallOptions & { instanceId?: string }): Promise<ParticipantView> {
    const { instanceId, ...call } = options ?? {};
    return this.send({
      method: 'POST',
      path: `/v1/participants/${enc(name, 'name')}/heartbeat`,
      ...(instanceId === undefined ? {} : { body: { instanceId } }),
      repeat: 'safe',
      options: call,
    });
  }

  /**
   * `DELETE /v1/participants/{name}/instances/{instanceId}`: the instance leaves (`draining`: no new
   * calls). An instance registered without `instanceId` is named by its URL.
   */
  async removeInstance(name: string, instanceId: string, options?: CallOptions): Promise<void> {
    await this.send({
      method: 'DELETE',
      path: `/v1/participants/${enc(name, 'name')}/instances/${enc(instanceId, 'instanceId')}`,
      repeat: 'safe',
      options,
    });
  }

  /** `GET /v1/participants`: every registered participant, by name, with its health. */
  async listParticipants(options?: CallOptions): Promise<ParticipantView[]> {
    const page = await this.send<{ items: ParticipantView[] }>({
      method: 'GET',
      path: '/v1/participants',
      repeat: 'safe',
      options,
    });
    return page.items;
  }

  /** `GET /v1/participants/{name}`. */
  async getParticipant(name: string, options?: CallOptions): Promise<ParticipantView> {
    return this.send({ method: 'GET', path: `/v1/participants/${enc(name, 'name')}`, repeat: 'safe', options });
  }

  /**
   * `DELETE /v1/participants/{name}`. Retried after a lost answer; a retry that finds it gone
   * resolves (the lost try deleted it), so `ParticipantNotFoundError` means it was never there.
   */
  async deleteParticipant(name: string, options?: CallOptions): Promise<void> {
    await this.send({ method: 'DELETE', path: `/v1/participants/${enc(name, 'name')}`, repeat: 'safe', options });
  }

  // ---- overview and access

  /** `GET /v1/stats`: the overview of a window (default `1h`). */
  stats(window?: StatsWindow, options?: CallOptions): Promise<StatsView> {
    return this.send({ method: 'GET', path: '/v1/stats', query: { window }, repeat: 'safe', options });
  }

  /** `GET /v1/me`: the caller's key name and role, or `open: true` when no key is configured. */
  me(options?: CallOptions): Promise<WhoAmI> {
    return this.send({ method: 'GET', path: '/v1/me', repeat: 'safe', options });
  }

  /** `GET /v1/keys` (admin): the keys from `API_KEYS` and the stored ones, never their secrets. */
  async listKeys(options?: CallOptions): Promise<ApiKeyView[]> {
    const page = await this.send<{ items: ApiKeyView[] }>({ method: 'GET', path: '/v1/keys', repeat: 'safe', options });
    return page.items;
  }

  /**
   * `POST /v1/keys` (admin): creates a stored key; its secret is in `key`, shown this once. Not
   * retried after a lost answer (the coordinator keeps no Idempotency-Key for it): on
   * `CoordinatorUnreachableError`, list the keys to see whether it exists.
   */
  createKey(body: CreateKeyRequest, options?: CallOptions): Promise<CreatedApiKey> {
    return this.send({ method: 'POST', path: '/v1/keys', body, repeat: 'unsafe', options });
  }

  /** `DELETE /v1/keys/{name}` (admin): revokes a stored key, on every instance within `KEY_CACHE_MS`. */
  async revokeKey(name: string, options?: CallOptions): Promise<void> {
    await this.send({ method: 'DELETE', path: `/v1/keys/${enc(name, 'name')}`, repeat: 'safe', options });
  }

  private async operatorAction(
    id: string,
    action: 'abort' | 'replay' | 'retry',
    body: OperatorActionRequest,
    options?: CallOptions,
  ): Promise<TransactionView> {
    return this.send({ method: 'POST', path: `/v1/transactions/${enc(id)}/${action}`, body, repeat: 'keyed', options });
  }

  private async send<T>(request: HttpRequest): Promise<T> {
    return (await this.http.request<T>(request)).body;
  }
}
