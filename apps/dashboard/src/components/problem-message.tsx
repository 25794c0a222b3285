import { ProblemError } from '../api/api-client';
import { formatTime } from './format';

/**
 * An error as the operator should read it: the problem's detail, and its field errors. A page that
 * still shows what an earlier fetch loaded passes when (`shownSince`, ms since the epoch), so the
 * operator knows those figures may be out of date while the page keeps trying.
 */
export function ProblemMessage({ error, shownSince }: { error: unknown; shownSince?: number }) {
  if (!error) return null;
  const problem = error instanceof ProblemError ? error.problem : null;
  return (
    <div className="problem" role="alert" data-testid="problem">
      <strong>{problem ? `${problem.status || ''} ${problem.title}`.trim() : 'Error'}:</strong>{' '}
      {problem?.detail ?? String((error as Error)?.message ?? error)}
      {problem?.errors && problem.errors.length > 0 && (
        <ul>
          {problem.errors.map((e) => (
            <li key={`${e.field}:${e.rule}`}>
              <code>{e.field}</code> {e.rule}
            </li>
          ))}
        </ul>
      )}
      {shownSince ? (
        <p className="muted" data-testid="shown-since">
          Below is what was loaded at {formatTime(new Date(shownSince).toISOString())}; trying again every few seconds.
        </p>
      ) : null}
    </div>
  );
}
