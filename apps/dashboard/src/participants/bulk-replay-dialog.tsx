import { useQueryClient } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import { Link } from 'react-router';
import type { BulkReplayResult } from '../api/wire-types';
import { useSession } from '../auth/session';
import { ProblemMessage } from '../components/problem-message';
import { useModal } from '../components/use-modal';

type ItemResult = NonNullable<BulkReplayResult['results']>[number];

type Step =
  | { kind: 'ask' }
  | { kind: 'dry-run'; ids: string[]; matched: number; truncated: boolean }
  | { kind: 'done'; results: ItemResult[] };

/**
 * Bulk replay of a participant's failed transactions, in two steps: a dry run freezes the list of
 * matching ids and shows it; the confirmation replays exactly that list (not whatever matches by
 * then) and shows what happened to each.
 */
export function BulkReplayDialog({ participant, onClose }: { participant: string; onClose: () => void }) {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const dialog = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  const [step, setStep] = useState<Step>({ kind: 'ask' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  useModal(dialog);

  const call = async (body: object, next: (answer: BulkReplayResult) => Step) => {
    setBusy(true);
    setError(null);
    try {
      setStep(next(await api.post<BulkReplayResult>('/v1/transactions/replay', { ...body, reason: reason.trim() })));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const dryRun = () =>
    call({ participant, dryRun: true }, (a) => ({
      kind: 'dry-run',
      ids: a.ids ?? [],
      matched: a.matched,
      truncated: a.truncated,
    }));
  const replay = (ids: string[]) =>
    call({ ids }, (a) => {
      void queryClient.invalidateQueries({ queryKey: ['transactions'] });
      void queryClient.invalidateQueries({ queryKey: ['participants'] });
      return { kind: 'done', results: a.results ?? [] };
    });

  return (
    <dialog
      ref={dialog}
      className="dialog wide-dialog"
      onCancel={onClose}
      aria-labelledby="bulk-replay-title"
      data-testid="bulk-replay-dialog"
    >
      <h2 id="bulk-replay-title">Replay the failed transactions of {participant}</h2>
      <label htmlFor="bulk-reason">Reason (required, written to each transaction's log)</label>
      <textarea
        id="bulk-reason"
        data-testid="bulk-reason-input"
        value={reason}
        onChange={(e) => setReason(e.target.value)}
        maxLength={500}
        rows={2}
        disabled={step.kind !== 'ask'}
      />
      {step.kind === 'dry-run' && (
        <div data-testid="bulk-dry-run">
          <p>
            <strong data-testid="bulk-matched">{step.matched}</strong> failed{' '}
            {step.matched === 1 ? 'transaction matches' : 'transactions match'}; these {step.ids.length} will be
            replayed:
          </p>
          {step.truncated && (
            <p className="muted">More match than one request takes: run the bulk replay again afterwards.</p>
          )}
          <ul className="id-list">
            {step.ids.map((id) => (
              <li key={id} className="mono">
                <Link to={`/transactions/${encodeURIComponent(id)}`}>{id}</Link>
              </li>
            ))}
          </ul>
        </div>
      )}
      {step.kind === 'done' && <BulkResults results={step.results} />}
      <ProblemMessage error={error} />
      <div className="dialog-buttons">
        {/* each step's own buttons take the focus from the one that was pressed and went away */}
        <button key={step.kind === 'done' ? 'close' : 'cancel'} onClick={onClose} autoFocus={step.kind === 'done'}>
          {step.kind === 'done' ? 'Close' : 'Cancel'}
        </button>
        {step.kind === 'ask' && (
          <button
            className="primary"
            disabled={busy || reason.trim() === ''}
            onClick={() => void dryRun()}
            data-testid="bulk-dry-run-button"
          >
            Dry run
          </button>
        )}
        {step.kind === 'dry-run' && (
          <button
            className="primary"
            disabled={busy || step.ids.length === 0}
            onClick={() => void replay(step.ids)}
            autoFocus
            data-testid="bulk-confirm-button"
          >
            Replay {step.ids.length}
          </button>
        )}
      </div>
    </dialog>
  );
}

function BulkResults({ results }: { results: ItemResult[] }) {
  return (
    <table data-testid="bulk-results">
      <thead>
        <tr>
          <th>transaction</th>
          <th>outcome</th>
          <th>detail</th>
        </tr>
      </thead>
      <tbody>
        {results.map((r) => (
          <tr key={r.id} data-outcome={r.outcome}>
            <td className="mono">
              <Link to={`/transactions/${encodeURIComponent(r.id)}`}>{r.id}</Link>
            </td>
            <td>
              <span className={`badge bulk-${r.outcome}`}>{r.outcome}</span>
            </td>
            <td>{r.detail ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
