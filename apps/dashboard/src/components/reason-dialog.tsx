import { useRef, useState, type FormEvent, type ReactNode } from 'react';
import { ProblemMessage } from './problem-message';
import { useModal } from './use-modal';

export interface ReasonDialogProps {
  title: string;
  /** What will happen, shown above the reason. */
  children?: ReactNode;
  confirmLabel: string;
  /** Does the action; a rejection is shown in the dialog, which stays open. */
  onConfirm: (reason: string) => Promise<void>;
  onClose: () => void;
  /** Why the action cannot be taken now (the transaction moved on meanwhile): shown, and confirming waits. */
  unavailable?: string | null;
}

/**
 * A modal confirmation that asks why (1-500 characters, required): operator actions are written to
 * the transaction's log with the actor and this reason.
 */
export function ReasonDialog(props: ReasonDialogProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  useModal(dialog);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (props.unavailable) return;
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm(reason.trim());
      props.onClose();
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };

  return (
    <dialog
      ref={dialog}
      className="dialog"
      onCancel={props.onClose}
      aria-labelledby="reason-dialog-title"
      data-testid="reason-dialog"
    >
      <form onSubmit={(e) => void submit(e)}>
        <h2 id="reason-dialog-title">{props.title}</h2>
        {props.children}
        <label htmlFor="operator-reason">Reason (required, written to the log)</label>
        <textarea
          id="operator-reason"
          data-testid="reason-input"
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          maxLength={500}
          rows={3}
          required
          autoFocus
        />
        {props.unavailable && (
          <p className="notice" role="status" data-testid="action-unavailable">
            {props.unavailable}
          </p>
        )}
        <ProblemMessage error={error} />
        <div className="dialog-buttons">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button
            type="submit"
            className="primary"
            disabled={busy || reason.trim() === '' || !!props.unavailable}
            data-testid="confirm-button"
          >
            {busy ? 'Working…' : props.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
