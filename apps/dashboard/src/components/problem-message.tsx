import { ProblemError } from '../api/api-client';

/** An error as the operator should read it: the problem's detail, and its field errors. */
export function ProblemMessage({ error }: { error: unknown }) {
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
    </div>
  );
}
