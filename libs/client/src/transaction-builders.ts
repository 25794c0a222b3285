import type { SubmitOptions } from './client-options';
import type { BranchInput, Phase, Protocol, StartTransactionInput, TransactionView } from './contracts';

/** Settings of a transaction as a whole: its id (default: one the coordinator makes), deadline, retry policy. */
export type TransactionOptions = Pick<StartTransactionInput, 'id' | 'timeoutMs' | 'retry'>;

/**
 * The phase options of a branch, per protocol (camelCase for 3PC's `can-commit`, ...), and the
 * wire phase each sets in `paths`. Checked against the contracts' `Phase` by the type checker.
 */
export const PHASE_OPTIONS = {
  saga: { action: 'action', compensate: 'compensate' },
  tcc: { try: 'try', confirm: 'confirm', cancel: 'cancel' },
  '2pc': { prepare: 'prepare', commit: 'commit', rollback: 'rollback' },
  '3pc': { canCommit: 'can-commit', preCommit: 'pre-commit', doCommit: 'do-commit', abort: 'abort' },
  msg: { action: 'action' },
} as const satisfies { [P in Protocol]: Record<string, Phase> };

/**
 * Where each phase of a branch is delivered: a path on the participant (default
 * `/{protocol}/{phase}`), or `null` for "nothing to call" (e.g. `compensate: null`: nothing to undo).
 */
export type PhasePaths<P extends Protocol> = { [K in keyof (typeof PHASE_OPTIONS)[P]]?: string | null };

/** One branch as a builder takes it. */
export type BranchOptions<P extends Protocol> = PhasePaths<P> & {
  /** Unique in the transaction (default `<participant>-<n>`, n counting from 1 in the order added). */
  id?: string;
  /** JSON sent to the participant with every phase of the branch. */
  payload?: unknown;
} & (P extends 'saga' | 'msg'
    ? { /** Saga or message DAG: the steps (deliveries) that must complete first. */ dependsOn?: string[] }
    : unknown);

/** What a builder's `submit` calls: the client's `startTransaction`. */
export type SubmitTransaction = (body: StartTransactionInput, options?: SubmitOptions) => Promise<TransactionView>;

/**
 * A driven transaction, put together branch by branch and sent as one `POST /v1/transactions`.
 * `toRequest()` is the body `submit` sends; nothing is sent before `submit`.
 */
export class TransactionBuilder<P extends Protocol> {
  private readonly branches: BranchInput[] = [];

  constructor(
    /** The protocol it runs under. */
    readonly protocol: P,
    protected readonly options: TransactionOptions,
    protected readonly submitTransaction: SubmitTransaction,
  ) {}

  /** The start body as it will be sent. */
  toRequest(): StartTransactionInput {
    return { ...this.options, protocol: this.protocol, branches: this.branches.map((b) => ({ ...b })) };
  }

  /** Starts the transaction: resolves with its view (settled within `wait`, if given). */
  submit(options?: SubmitOptions): Promise<TransactionView> {
    return this.submitTransaction(this.toRequest(), options);
  }

  protected add(participant: string, options: BranchOptions<P>): this {
    const phases: Record<string, Phase> = PHASE_OPTIONS[this.protocol];
    const { id, payload, dependsOn, ...rest } = options as BranchOptions<P> & { dependsOn?: string[] };
    const paths: Partial<Record<Phase, string | null>> = {};
    for (const [option, value] of Object.entries(rest)) {
      const phase = phases[option];
      if (!phase) {
        throw new TypeError(
          `"${option}" is not a branch option of ${this.protocol} (${['id', 'payload', ...Object.keys(phases)].join(', ')})`,
        );
      }
      if (value !== undefined) paths[phase] = value as string | null;
    }
    this.branches.push({
      id: id ?? `${participant}-${this.branches.length + 1}`,
      participant,
      ...(payload === undefined ? {} : { payload }),
      ...(dependsOn === undefined ? {} : { dependsOn: [...dependsOn] }),
      ...(Object.keys(paths).length ? { paths } : {}),
    });
    return this;
  }
}

/** A saga: steps run in order, or as a DAG with `dependsOn`; a step that says no undoes the done ones. */
export class SagaBuilder extends TransactionBuilder<'saga'> {
  /** Adds a step at `participant`: its `action` (and `compensate`) path, payload, dependencies. */
  step(participant: string, options: BranchOptions<'saga'> = {}): this {
    return this.add(participant, options);
  }
}

/** A driven TCC, 2PC or 3PC transaction: all branches given up front; all commit or none does. */
export class AtomicCommitBuilder<P extends 'tcc' | '2pc' | '3pc'> extends TransactionBuilder<P> {
  /** Adds a branch at `participant`, with its phase paths and payload. */
  branch(participant: string, options: BranchOptions<P> = {} as BranchOptions<P>): this {
    return this.add(participant, options);
  }
}

/** Settings of a reliable message: a transaction's, and for `prepare` the sender's check and when to ask it. */
export type MessageOptions = TransactionOptions & Pick<StartTransactionInput, 'checkAfterMs' | 'check'>;

/** What `submitMessage` calls: the client's `submitMessage`. */
export type SubmitMessage = (id: string, options?: SubmitOptions) => Promise<TransactionView>;

/** A message prepared at the coordinator: submit it once the sender's local transaction committed. */
export interface PreparedMessageHandle {
  id: string;
  /** The message as prepared (`status: "prepared"`). */
  view: TransactionView;
  /** `POST /v1/transactions/{id}/submit` (idempotent): starts delivery. */
  submit(options?: SubmitOptions): Promise<TransactionView>;
}

/**
 * A reliable message (`protocol: "msg"`): deliveries to consumers, in order or as a DAG with
 * `dependsOn`, never undone. `prepare()` logs it without delivering (mode `prepared`; needs `check`),
 * for the sender to `submit` after its local commit; `submit()` delivers at once (mode `driven`).
 * A sender with a database should rather use the participant SDK's outbox, whose check answer is
 * authoritative.
 */
export class MessageBuilder extends TransactionBuilder<'msg'> {
  constructor(
    options: MessageOptions,
    submitTransaction: SubmitTransaction,
    private readonly submitMessage: SubmitMessage,
  ) {
    super('msg', options, submitTransaction);
  }

  /** Adds a delivery to the consumer `participant`: its `action` path, payload, dependencies. */
  to(participant: string, options: BranchOptions<'msg'> = {}): this {
    return this.add(participant, options);
  }

  /** The driven start body: delivered at once, so without the check (the coordinator refuses one there). */
  override toRequest(): StartTransactionInput {
    const { check: _check, checkAfterMs: _checkAfterMs, ...driven } = super.toRequest();
    return driven;
  }

  /** The prepared-mode start body, with the check. */
  toPreparedRequest(): StartTransactionInput {
    return { ...super.toRequest(), mode: 'prepared' };
  }

  /** Logs the message without delivering it; resolves with a handle to submit it. */
  async prepare(options?: SubmitOptions): Promise<PreparedMessageHandle> {
    if (!(this.options as MessageOptions).check) {
      throw new TypeError("a prepared message needs `check: {participant, path}`: the sender's check endpoint");
    }
    const view = await this.submitTransaction(this.toPreparedRequest(), options);
    return { id: view.id, view, submit: (o) => this.submitMessage(view.id, o) };
  }
}
