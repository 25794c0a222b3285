import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ROLES, type ApiKeyView, type CreatedApiKey, type Role } from '../api/wire-types';
import { useSession } from '../auth/session';
import { formatTime } from '../components/format';
import { ProblemMessage } from '../components/problem-message';

/** `/keys` (admin): the keys, a new key (its secret shown once), revocation of stored keys. */
export function KeysPage() {
  const { api, me } = useSession();
  const queryClient = useQueryClient();
  const keys = useQuery({
    // whose list: signing in with the first key (which ends open mode) reads it again with that key
    queryKey: ['keys', me.open ? null : me.name],
    queryFn: ({ signal }) => api.get<{ items: ApiKeyView[] }>('/v1/keys', signal),
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['keys'] });
  const revoke = useMutation({
    mutationFn: (name: string) => api.delete(`/v1/keys/${encodeURIComponent(name)}`),
    onSuccess: refresh,
  });

  return (
    <div data-testid="keys-page">
      <div className="page-title">
        <h1>API keys</h1>
      </div>
      <CreateKeyForm onCreated={() => void refresh()} />
      <ProblemMessage error={keys.error ?? revoke.error} />
      {keys.data && (
        <table data-testid="keys-table">
          <thead>
            <tr>
              <th>name</th>
              <th>role</th>
              <th>source</th>
              <th>created</th>
              <th>by</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {keys.data.items.map((k) => (
              <tr key={k.name} data-testid="key-row" data-name={k.name}>
                <td className="mono">{k.name}</td>
                <td>{k.role}</td>
                <td>{k.source === 'env' ? 'API_KEYS' : 'stored'}</td>
                <td>{formatTime(k.createdAt)}</td>
                <td>{k.createdBy ?? ''}</td>
                <td>
                  {k.source === 'stored' && (
                    <button
                      className="danger"
                      disabled={revoke.isPending}
                      onClick={() => {
                        if (window.confirm(`Revoke the key "${k.name}"? Its holders lose access within seconds.`))
                          revoke.mutate(k.name);
                      }}
                      data-testid="revoke-key"
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function CreateKeyForm({ onCreated }: { onCreated: () => void }) {
  const { api, me, signIn, openModeEnded, endOpenMode } = useSession();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [signInProblem, setSignInProblem] = useState<string | null>(null);
  // the first key ends open mode: from then on this tab's key-less calls are refused, so the list is
  // not fetched again (that would end the session before the secret is seen) until the tab signs in
  // with a key, which ends this too
  const endsOpenMode = me.open || openModeEnded;
  const create = useMutation({
    mutationFn: () => api.post<CreatedApiKey>('/v1/keys', { name: name.trim(), role }),
    onSuccess: () => {
      setName('');
      if (endsOpenMode) endOpenMode();
      else onCreated();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };

  return (
    <section>
      {endsOpenMode && !create.isSuccess && (
        <p className="banner banner-warning" data-testid="ends-open-mode-warning">
          Creating the first key ends open mode: from then on every call needs a key.
        </p>
      )}
      <form className="inline-form" onSubmit={submit} data-testid="create-key-form">
        <label>
          Name <input value={name} onChange={(e) => setName(e.target.value)} required data-testid="key-name-input" />
        </label>
        <label>
          Role{' '}
          <select value={role} onChange={(e) => setRole(e.target.value as Role)} data-testid="key-role-select">
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary" disabled={create.isPending || name.trim() === ''}>
          Create key
        </button>
      </form>
      <ProblemMessage error={create.error} />
      {create.data && (
        <div className="banner banner-warning" data-testid="new-key">
          Key <strong>{create.data.name}</strong> ({create.data.role}) created. Copy its secret now, it is not shown
          again:
          <code className="secret" data-testid="new-key-secret">
            {create.data.key}
          </code>
          {endsOpenMode && (
            <p>
              Open mode has ended.{' '}
              <button
                onClick={() => void signIn(create.data.key).then(setSignInProblem)}
                data-testid="sign-in-with-new-key"
              >
                Sign in with this key
              </button>
            </p>
          )}
          {signInProblem && <p className="problem">{signInProblem}</p>}
        </div>
      )}
    </section>
  );
}
