import { Link } from 'react-router';
import type { Stats } from '../api/wire-types';
import { StatusBadge } from '../components/badges';
import { formatPercent } from '../components/format';

/** In flight by protocol and status, the participants failing most, and the most common errors. */
export function StatsTables({ stats }: { stats: Stats }) {
  return (
    <div className="columns">
      <section>
        <h2>In flight</h2>
        {stats.inFlight.length === 0 ? (
          <p className="muted">Nothing in flight.</p>
        ) : (
          <table data-testid="in-flight-table">
            <thead>
              <tr>
                <th>protocol</th>
                <th>status</th>
                <th className="number">count</th>
              </tr>
            </thead>
            <tbody>
              {stats.inFlight.map((row) => (
                <tr key={`${row.protocol}/${row.status}`}>
                  <td>{row.protocol}</td>
                  <td>
                    <Link to={`/transactions?protocol=${row.protocol}&status=${row.status}`}>
                      <StatusBadge status={row.status} />
                    </Link>
                  </td>
                  <td className="number">{row.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section>
        <h2>Participants with the most failing calls</h2>
        {stats.failingParticipants.length === 0 ? (
          <p className="muted">No failing calls in this window.</p>
        ) : (
          <table data-testid="failing-participants-table">
            <thead>
              <tr>
                <th>participant</th>
                <th className="number">failures</th>
                <th className="number">calls</th>
                <th className="number">share</th>
              </tr>
            </thead>
            <tbody>
              {stats.failingParticipants.map((row) => (
                <tr key={row.participant}>
                  <td>
                    <Link to={`/transactions?participant=${encodeURIComponent(row.participant)}`}>
                      {row.participant}
                    </Link>
                  </td>
                  <td className="number">{row.failures}</td>
                  <td className="number">{row.calls}</td>
                  <td className="number">{formatPercent(row.calls ? row.failures / row.calls : null)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section className="wide">
        <h2>Top errors</h2>
        {stats.topErrors.length === 0 ? (
          <p className="muted">No errors in this window.</p>
        ) : (
          <table data-testid="top-errors-table">
            <thead>
              <tr>
                <th>participant</th>
                <th>phase</th>
                <th>error</th>
                <th className="number">transactions</th>
                <th>example</th>
              </tr>
            </thead>
            <tbody>
              {stats.topErrors.map((row) => (
                <tr key={`${row.participant}/${row.phase}/${row.error}`}>
                  <td>{row.participant}</td>
                  <td>{row.phase}</td>
                  <td className="error-text">{row.error}</td>
                  <td className="number">{row.transactions}</td>
                  <td>
                    <Link to={`/transactions/${encodeURIComponent(row.example)}`}>{row.example}</Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
