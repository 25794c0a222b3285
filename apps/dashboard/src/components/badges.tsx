import type { Attention, TransactionStatus } from '../api/wire-types';

export function StatusBadge({ status }: { status: TransactionStatus | string }) {
  return (
    <span className={`badge status-${status}`} data-testid="status-badge" data-status={status}>
      {status}
    </span>
  );
}

/** The attention state; `retrying` looks different from a healthy in-flight transaction. */
export function AttentionBadge({ attention }: { attention: Attention | undefined }) {
  if (!attention) return <span className="muted">—</span>;
  return (
    <span
      className={`badge attention-${attention}`}
      data-testid={attention === 'retrying' ? 'retrying-badge' : 'attention-badge'}
      data-attention={attention}
      title={ATTENTION_MEANING[attention]}
    >
      {attention === 'retrying' ? '↻ retrying' : attention}
    </span>
  );
}

export const ATTENTION_MEANING: Record<Attention, string> = {
  healthy: 'in flight, no branch waiting out a failed attempt',
  retrying: 'in flight; a branch’s last attempt failed and will be tried again',
  compensating: 'undoing: compensating, cancelling or rolling back',
  waiting: 'a branch’s participant is down (stale lease)',
  failed: 'parked as failed: needs an operator',
  done: 'committed or aborted',
};

export function OutcomeBadge({ outcome }: { outcome: string | null }) {
  return <span className={`badge outcome-${outcome ?? 'pending'}`}>{outcome ?? 'in flight'}</span>;
}
