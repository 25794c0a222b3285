import { useEffect, useState, type FormEvent } from 'react';
import { Attention, Protocol, TransactionStatus } from '../api/vocabulary';
import { IN_FLIGHT_STATUSES, isoToLocalInput, localInputToIso, type ListFilters } from './list-filters';

const STATUS_CHOICES: readonly string[] = Object.values(TransactionStatus);

/**
 * The filter form. Choices in a list apply at once; typed ones (participant, search, times) on
 * Enter or "Apply".
 */
export function TransactionFilters(props: { filters: ListFilters; onChange: (filters: ListFilters) => void }) {
  const [draft, setDraft] = useState<ListFilters>(props.filters);
  useEffect(() => setDraft(props.filters), [props.filters]);

  // a list of statuses from a link (`?status=committed,aborted`) that no single choice is: shown as itself
  const statusList =
    draft.status && draft.status !== IN_FLIGHT_STATUSES && !STATUS_CHOICES.includes(draft.status) ? draft.status : null;
  const set = (key: keyof ListFilters, value: string) => setDraft((d) => ({ ...d, [key]: value }));
  const choose = (key: keyof ListFilters, value: string) => props.onChange({ ...draft, [key]: value });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    props.onChange(draft);
  };

  return (
    <form className="filters" onSubmit={submit} data-testid="transaction-filters">
      <label>
        Search
        <input
          type="search"
          placeholder="id, id prefix or idempotency key"
          value={draft.q ?? ''}
          onChange={(e) => set('q', e.target.value)}
          data-testid="filter-q"
        />
      </label>
      <label>
        Status
        <select
          value={draft.status ?? ''}
          onChange={(e) => choose('status', e.target.value)}
          data-testid="filter-status"
        >
          <option value="">any</option>
          <option value={IN_FLIGHT_STATUSES}>in flight</option>
          {Object.values(TransactionStatus).map((s) => (
            <option key={s}>{s}</option>
          ))}
          {statusList && <option value={statusList}>{statusList.split(',').join(', ')}</option>}
        </select>
      </label>
      <label>
        Protocol
        <select
          value={draft.protocol ?? ''}
          onChange={(e) => choose('protocol', e.target.value)}
          data-testid="filter-protocol"
        >
          <option value="">any</option>
          {Object.values(Protocol).map((p) => (
            <option key={p}>{p}</option>
          ))}
        </select>
      </label>
      <label>
        Attention
        <select
          value={draft.attention ?? ''}
          onChange={(e) => choose('attention', e.target.value)}
          data-testid="filter-attention"
        >
          <option value="">any</option>
          {Object.values(Attention).map((a) => (
            <option key={a}>{a}</option>
          ))}
        </select>
      </label>
      <label>
        Participant
        <input
          value={draft.participant ?? ''}
          onChange={(e) => set('participant', e.target.value)}
          data-testid="filter-participant"
          size={12}
        />
      </label>
      <label>
        From
        <input
          type="datetime-local"
          value={isoToLocalInput(draft.from)}
          onChange={(e) => set('from', localInputToIso(e.target.value))}
          data-testid="filter-from"
        />
      </label>
      <label>
        To
        <input
          type="datetime-local"
          value={isoToLocalInput(draft.to)}
          onChange={(e) => set('to', localInputToIso(e.target.value))}
          data-testid="filter-to"
        />
      </label>
      <div className="filter-buttons">
        <button type="submit" className="primary" data-testid="apply-filters">
          Apply
        </button>
        <button type="button" onClick={() => props.onChange({})} data-testid="clear-filters">
          Clear
        </button>
      </div>
    </form>
  );
}
