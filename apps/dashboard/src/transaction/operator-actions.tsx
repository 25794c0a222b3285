import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { OperatorAction, TransactionView } from '../api/wire-types';
import { useSession } from '../auth/session';
import { ReasonDialog } from '../components/reason-dialog';
import { allowedActions } from './transaction-facts';

const ACTIONS: Record<OperatorAction, { label: string; explain: string }> = {
  replay: { label: 'Replay', explain: 'Re-drives this failed transaction with a fresh retry budget.' },
  retry: { label: 'Retry now', explain: 'Branches waiting out a backoff are called at once.' },
  abort: { label: 'Abort', explain: 'Aborts the transaction before its decision; done branches are undone.' },
};

/**
 * Replay / Retry now / Abort, for roles that may operate and only when the status allows it; a
 * client's key sees Abort on the transactions it started.
 */
export function OperatorActions({ view }: { view: TransactionView }) {
  const { api, permissions, me } = useSession();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState<OperatorAction | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const mayAbort = permissions.operate || (permissions.abortOwn && view.createdBy === me.name);
  if (!permissions.operate && !mayAbort) return null;

  const allowed = allowedActions(view);
  const visible = (Object.keys(ACTIONS) as OperatorAction[]).filter(
    (a) => allowed[a] && (permissions.operate || (a === 'abort' && mayAbort)),
  );
  // an open dialog stays while the transaction moves on (another operator acted meanwhile): what was
  // typed is kept, and the dialog says when its action cannot be taken now
  if (visible.length === 0 && !done && !open) return null;

  const run = async (action: OperatorAction, reason: string) => {
    await api.post(`/v1/transactions/${encodeURIComponent(view.id)}/${action}`, { reason });
    setDone(`${ACTIONS[action].label} requested.`);
    await queryClient.invalidateQueries({ queryKey: ['transaction', view.id] });
  };

  return (
    <section className="operator-actions" data-testid="operator-actions">
      {visible.map((action) => (
        <button
          key={action}
          className={action === 'abort' ? 'danger' : 'primary'}
          onClick={() => {
            setDone(null);
            setOpen(action);
          }}
          data-testid={`${action}-button`}
        >
          {ACTIONS[action].label}…
        </button>
      ))}
      {done && (
        <span className="action-done" data-testid="action-done">
          {done}
        </span>
      )}
      {open && (
        <ReasonDialog
          title={`${ACTIONS[open].label} ${view.id}`}
          confirmLabel={ACTIONS[open].label}
          onConfirm={(reason) => run(open, reason)}
          onClose={() => setOpen(null)}
          unavailable={
            visible.includes(open)
              ? null
              : `The transaction is ${view.status} now: ${ACTIONS[open].label.toLowerCase()} cannot be taken until that changes.`
          }
        >
          <p>{ACTIONS[open].explain}</p>
        </ReasonDialog>
      )}
    </section>
  );
}
