import { coordinatorBaseUrl } from '#contracts';
import type { PostgresXa } from './postgres-xa';
import { parseXaGid } from './xa-gid';

/** The coordinator's decision for a transaction; undefined while it has none (or does not say). */
export type XaDecision = 'commit' | 'abort' | undefined;

/** What {@link recoverInDoubt} did with each prepared transaction it found. */
export interface XaRecoveryReport {
  committed: string[];
  rolledBack: string[];
  /** Left prepared: undecided, unknown to the coordinator, a hashed gid, or the question failed. */
  left: string[];
  errors: { gid: string; error: unknown }[];
}

/**
 * Resolves the prepared transactions a crash left behind (this prefix, this database): each gid's
 * transaction is looked up with `decisionOf`, then committed or rolled back through `xa` (both
 * idempotent, so a phase-two delivery racing with this is harmless). Without a decision the branch is
 * left prepared, its locks held, for the coordinator's phase-two redelivery to finish. Call it at
 * participant start, before serving. Never throws for one branch; the report lists what failed.
 */
export async function recoverInDoubt(
  xa: PostgresXa,
  decisionOf: (transactionId: string) => Promise<XaDecision>,
): Promise<XaRecoveryReport> {
  const report: XaRecoveryReport = { committed: [], rolledBack: [], left: [], errors: [] };
  for (const { gid } of await xa.inDoubt()) {
    const parsed = parseXaGid(xa.prefix, gid);
    if (!parsed || !('transactionId' in parsed)) {
      report.left.push(gid);
      continue;
    }
    try {
      const decision = await decisionOf(parsed.transactionId);
      if (decision === 'commit') {
        await xa.commit(parsed);
        report.committed.push(gid);
      } else if (decision === 'abort') {
        await xa.rollback(parsed);
        report.rolledBack.push(gid);
      } else {
        report.left.push(gid);
      }
    } catch (error) {
      report.errors.push({ gid, error });
      report.left.push(gid);
    }
  }
  return report;
}

/** How {@link coordinatorDecisions} reaches the coordinator. */
export interface CoordinatorDecisionOptions {
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /**
   * How long one question may take (default 10 s): past it the gid is listed in the report's
   * `errors` and left prepared, so a coordinator that accepts connections and never answers does
   * not hold the participant's start for minutes per prepared transaction.
   */
  timeoutMs?: number;
}

const DECISION_TIMEOUT_MS = 10_000;

/**
 * Asks the coordinator (`GET {coordinatorUrl}/v1/transactions/{id}`) for a transaction's decision.
 * A 404 is no decision, not an abort: the participant prepared, so the coordinator logged the
 * transaction; a 404 means the wrong coordinator or a pruned log, and guessing would risk atomicity.
 * Any other non-2xx throws.
 */
export function coordinatorDecisions(
  coordinatorUrl: string,
  options: CoordinatorDecisionOptions = {},
): (transactionId: string) => Promise<XaDecision> {
  const doFetch = options.fetch ?? fetch;
  const base = coordinatorBaseUrl(coordinatorUrl);
  return async (transactionId) => {
    const url = `${base}/v1/transactions/${encodeURIComponent(transactionId)}`;
    const timeoutMs = options.timeoutMs ?? DECISION_TIMEOUT_MS;
    const response = await doFetch(url, {
      headers: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {},
      signal: AbortSignal.timeout(timeoutMs),
    }).catch((error: unknown) => {
      const why =
        (error as { name?: unknown } | null)?.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : error;
      throw new Error(`asking ${url} for transaction ${transactionId}'s decision failed: ${String(why)}`, {
        cause: error,
      });
    });
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`coordinator answered ${response.status} for transaction ${transactionId}`);
    const body = (await response.json()) as { decision?: unknown };
    return body.decision === 'commit' || body.decision === 'abort' ? body.decision : undefined;
  };
}
