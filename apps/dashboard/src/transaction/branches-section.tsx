import type { BranchView } from '../api/wire-types';
import { JsonDetails } from '../components/json-details';

/** Each branch's payload (what was sent) and result (what the participant answered), folded. */
export function BranchesSection({ branches }: { branches: BranchView[] }) {
  return (
    <section data-testid="branches">
      <h2>Payloads and results</h2>
      <table>
        <thead>
          <tr>
            <th>branch</th>
            <th>participant</th>
            <th>depends on</th>
            <th>payload</th>
            <th>result</th>
          </tr>
        </thead>
        <tbody>
          {branches.map((b) => (
            <tr key={b.id}>
              <td className="mono">{b.id}</td>
              <td>{b.participant}</td>
              <td>{b.dependsOn.join(', ') || '—'}</td>
              <td>
                <JsonDetails summary="payload" value={b.payload} />
              </td>
              <td>
                <JsonDetails summary="result" value={b.result} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
