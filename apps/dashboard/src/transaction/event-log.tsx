import type { EventView } from '../api/wire-types';
import { formatTime } from '../components/format';

/** The raw append-only log. `operator.*` events show who acted and why. */
export function EventLog({ events }: { events: EventView[] }) {
  return (
    <section data-testid="event-log">
      <h2>Event log</h2>
      <div className="scroll-x">
        <table className="event-log">
          <thead>
            <tr>
              <th className="number">seq</th>
              <th>at</th>
              <th>type</th>
              <th>branch</th>
              <th>phase</th>
              <th className="number">attempt</th>
              <th>outcome</th>
              <th>detail</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr
                key={e.seq}
                data-testid="event-row"
                data-type={e.type}
                className={e.type.startsWith('operator.') ? 'operator-event' : undefined}
              >
                <td className="number">{e.seq}</td>
                <td className="nowrap">{formatTime(e.at)}</td>
                <td className="mono">{e.type}</td>
                <td>{e.branchId ?? ''}</td>
                <td>{e.phase ?? ''}</td>
                <td className="number">{e.attempt ?? ''}</td>
                <td>{e.outcome ?? ''}</td>
                <td>
                  <EventDetail event={e} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function EventDetail({ event }: { event: EventView }) {
  const detail = event.detail;
  if (!detail) return null;
  if (event.type.startsWith('operator.')) {
    const { actor, reason, ...rest } = detail as { actor?: unknown; reason?: unknown };
    return (
      <div className="operator-detail" data-testid="operator-event">
        <strong>{String(actor ?? 'unknown actor')}</strong>: {reason ? String(reason) : <em>no reason given</em>}
        {Object.keys(rest).length > 0 && <code className="detail-json">{JSON.stringify(rest)}</code>}
      </div>
    );
  }
  const text = JSON.stringify(detail);
  if (text.length <= 120) return <code className="detail-json">{text}</code>;
  return (
    <details className="json">
      <summary>
        <code>{text.slice(0, 80)}…</code>
      </summary>
      <pre>{JSON.stringify(detail, null, 2)}</pre>
    </details>
  );
}
