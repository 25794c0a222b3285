import { sleep } from './backoff';
import type { CallOptions, SubmitOptions } from './client-options';
import {
  BranchRejectedError,
  BranchStatus,
  CoordinatorError,
  type BranchView,
  type InteractiveBranchInput,
  type OperatorActionRequest,
  type TransactionView,
} from './contracts';
import type { TransactionOptions } from './transaction-builders';

/** The protocols that can run interactively. */
export type InteractiveProtocol = 'tcc' | '2pc';

/** `POST /v1/transactions` for an interactive transaction: no branches yet. */
export type BeginTransactionInput = TransactionOptions & { protocol: InteractiveProtocol };

/** Options of the interactive helper. */
export interface InteractiveOptions extends TransactionOptions, Pick<SubmitOptions, 'wait' | 'signal'> {}

/** The transaction handed to an interactive callback. */
export interface InteractiveTransaction {
  /** The transaction's id. */
  readonly id: string;
  readonly protocol: InteractiveProtocol;
  /**
   * Registers a branch and delivers its try/prepare. Resolves with the branch once it voted yes
   * (waiting, if the coordinator is still retrying it, until it answers); rejects with
   * {@link BranchRejectedError} when it said no or never answered, after which the transaction is
   * aborting and the callback should give up (throwing is enough).
   */
  branch(branch: InteractiveBranchInput, options?: CallOptions): Promise<BranchView>;
}

/** The calls the helper makes; a {@link CoordinatorClient} has them all. */
export interface InteractiveApi {
  beginTransaction(input: BeginTransactionInput, options?: CallOptions): Promise<TransactionView>;
  registerBranch(id: string, branch: InteractiveBranchInput, options?: CallOptions): Promise<BranchView>;
  commitTransaction(id: string, options?: SubmitOptions): Promise<TransactionView>;
  abortTransaction(id: string, action?: OperatorActionRequest, options?: CallOptions): Promise<TransactionView>;
  getTransaction(id: string, options?: CallOptions): Promise<TransactionView>;
}

/** The callback of an interactive transaction: register branches with `tx.branch`, then return to commit. */
export type InteractiveCallback = (tx: InteractiveTransaction) => unknown;

const VOTING: readonly string[] = [BranchStatus.Pending, BranchStatus.Running];

/**
 * Runs `fn` inside an interactive TCC/2PC transaction. Begins it; when `fn` returns, commits it
 * (resolving with its view: settled within `wait` if given, else as soon as the commit decision is
 * durable); when `fn` throws, aborts it with the error's message as the reason and rethrows the
 * error. A commit refused for good (a branch did not say yes) aborts too. A client that vanishes
 * midway leaves nothing hanging: the coordinator aborts the transaction at its `timeoutMs`.
 */
export async function runInteractive(
  api: InteractiveApi,
  protocol: InteractiveProtocol,
  fn: InteractiveCallback,
  options: InteractiveOptions = {},
): Promise<TransactionView> {
  const { wait, signal, ...settings } = options;
  const begun = await api.beginTransaction({ ...settings, protocol }, { signal });
  const abort = (reason: string) =>
    api.abortTransaction(begun.id, { reason: asReason(reason) }, { signal }).catch(() => undefined);
  const tx: InteractiveTransaction = {
    id: begun.id,
    protocol,
    branch: (branch, callOptions) => registerAndAwaitVote(api, begun, branch, { signal, ...callOptions }),
  };
  try {
    await fn(tx);
  } catch (error) {
    await abort(`the initiator gave up: ${messageOf(error)}`);
    throw error;
  }
  try {
    return await api.commitTransaction(begun.id, { wait, signal });
  } catch (error) {
    // a transient failure leaves the commit's fate unknown: aborting now could race a commit that landed
    if (!(error instanceof CoordinatorError && error.retryable)) await abort(`commit refused: ${messageOf(error)}`);
    throw error;
  }
}

/** Registers a branch; a vote still being retried (202) is awaited by polling until the transaction's deadline. */
async function registerAndAwaitVote(
  api: InteractiveApi,
  begun: TransactionView,
  branch: InteractiveBranchInput,
  options: CallOptions,
): Promise<BranchView> {
  let view = await api.registerBranch(begun.id, branch, options);
  let transactionError: string | null = null;
  const deadline = Date.parse(begun.deadline);
  for (let delay = 100; VOTING.includes(view.status); delay = Math.min(delay * 2, 1_000)) {
    if (Date.now() > deadline + 1_000) break;
    await sleep(delay, options.signal);
    const current = await api.getTransaction(begun.id, { signal: options.signal });
    view = current.branches.find((b) => b.id === branch.id) ?? view;
    transactionError = current.error;
  }
  if (view.status !== BranchStatus.Succeeded) {
    // as the coordinator words it: why, not the status the branch's undo left it in
    throw new BranchRejectedError(branch.id, transactionError ?? view.lastError ?? `it is ${view.status}`);
  }
  return view;
}

function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.trim() || (error instanceof Error ? error.name : 'error');
}

/** An operator reason the coordinator takes: no NUL or lone surrogate, at most 500 UTF-16 units, not cut inside a pair. */
export function asReason(text: string): string {
  const storable = text
    .replace(/\0/g, '')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  let reason = '';
  for (const ch of storable) {
    if (reason.length + ch.length > 500) break;
    reason += ch;
  }
  return reason;
}
