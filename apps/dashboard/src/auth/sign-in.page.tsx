import { useState, type FormEvent } from 'react';

/** Asks for an API key; `onSignIn` answers null when the key is accepted, else why not. */
export function SignInPage(props: { detail: string | null; onSignIn: (key: string) => Promise<string | null> }) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(props.detail);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setProblem(await props.onSignIn(key.trim()));
    setBusy(false);
  };

  return (
    <main className="sign-in">
      <form onSubmit={(e) => void submit(e)} data-testid="sign-in-form">
        <h1>txc operator dashboard</h1>
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          data-testid="api-key-input"
          type="password"
          autoComplete="off"
          value={key}
          onChange={(e) => setKey(e.target.value)}
          required
          autoFocus
        />
        <p className="hint">The key stays in this tab (sessionStorage) and is sent as a Bearer token.</p>
        {problem && (
          <p className="problem" role="alert" data-testid="sign-in-problem">
            {problem}
          </p>
        )}
        <button type="submit" disabled={busy || key.trim() === ''} data-testid="sign-in-button">
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
