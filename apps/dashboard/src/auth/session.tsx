import { useQueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiClient, ProblemError } from '../api/api-client';
import { apiKeyStorage } from '../api/session-storage';
import type { WhoAmI } from '../api/wire-types';
import { permissionsOf, type Permissions } from './permissions';
import { SignInPage } from './sign-in.page';

export interface Session {
  me: WhoAmI;
  api: ApiClient;
  permissions: Permissions;
  /** Forgets the key; `detail` is shown on the sign-in page (why the session ended). */
  signOut(detail?: string | null): void;
  /** Switches to another key (one just created, say); answers why not, or null once signed in with it. */
  signIn(key: string): Promise<string | null>;
  /** This tab created the first key while in open mode: its key-less session is over. */
  openModeEnded: boolean;
  endOpenMode(): void;
}

type SessionState =
  | { phase: 'loading' }
  | { phase: 'unreachable'; detail: string }
  | { phase: 'signed-out'; detail: string | null }
  | { phase: 'signed-in'; me: WhoAmI };

const SessionContext = createContext<Session | null>(null);

/** The signed-in session; only used below {@link SessionGate}. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside of a signed-in session');
  return session;
}

/**
 * Asks `GET /v1/me` who the stored key is. Open mode: no sign-in. A 401 (now or on any later call,
 * a revoked key) shows the sign-in page with the problem's detail. Renders `children` signed in.
 */
export function SessionGate({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [state, setState] = useState<SessionState>({ phase: 'loading' });
  const [openModeEnded, setOpenModeEnded] = useState(false);

  const endSession = useCallback(
    (detail: string | null) => {
      apiKeyStorage.forget();
      queryClient.clear();
      setOpenModeEnded(false);
      setState({ phase: 'signed-out', detail });
    },
    [queryClient],
  );

  const api = useMemo(
    () => new ApiClient({ apiKey: apiKeyStorage.read, onUnauthorized: (error) => endSession(error.message) }),
    [endSession],
  );

  const check = useCallback(async () => {
    setState({ phase: 'loading' });
    const result = await whoIs(apiKeyStorage.read());
    if (result.kind === 'known') setState({ phase: 'signed-in', me: result.me });
    // without a key, a 401 just asks for one; a 403 (open mode refusing this page's host) says why
    else if (result.kind === 'unknown')
      endSession(apiKeyStorage.read() || result.status === 403 ? result.detail : null);
    else setState({ phase: 'unreachable', detail: result.detail });
  }, [endSession]);

  useEffect(() => {
    void check();
  }, [check]);

  const signIn = useCallback(
    async (key: string): Promise<string | null> => {
      const result = await whoIs(key);
      if (result.kind !== 'known') return result.detail;
      apiKeyStorage.write(key);
      queryClient.clear();
      setOpenModeEnded(false);
      setState({ phase: 'signed-in', me: result.me });
      return null;
    },
    [queryClient],
  );

  // stable: what holds a connection open on it (the live stream) must not reopen when the session
  // changes around it (the first key created ends open mode, and a reopened stream would need a key)
  const signOut = useCallback((detail?: string | null) => endSession(detail ?? null), [endSession]);
  const endOpenMode = useCallback(() => setOpenModeEnded(true), []);
  const me = state.phase === 'signed-in' ? state.me : null;
  const session = useMemo<Session | null>(
    () =>
      me && {
        me,
        api,
        permissions: permissionsOf(me),
        signOut,
        signIn,
        openModeEnded,
        endOpenMode,
      },
    [me, api, signOut, signIn, openModeEnded, endOpenMode],
  );

  switch (state.phase) {
    case 'loading':
      return <p className="page-message">Connecting to the coordinator…</p>;
    case 'unreachable':
      return (
        <div className="page-message" role="alert">
          <p>{state.detail}</p>
          <button onClick={() => void check()}>Try again</button>
        </div>
      );
    case 'signed-out':
      return <SignInPage detail={state.detail} onSignIn={signIn} />;
    case 'signed-in':
      return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
  }
}

type WhoIsResult =
  | { kind: 'known'; me: WhoAmI }
  | { kind: 'unknown'; detail: string; status: number }
  | { kind: 'error'; detail: string };

/** `GET /v1/me` with `key`. */
async function whoIs(key: string | null): Promise<WhoIsResult> {
  try {
    const me = await new ApiClient({ apiKey: () => key }).get<WhoAmI>('/v1/me');
    return { kind: 'known', me };
  } catch (error) {
    if (!(error instanceof ProblemError)) return { kind: 'error', detail: String(error) };
    if (error.status === 401 || error.status === 403)
      return { kind: 'unknown', detail: error.message, status: error.status };
    return { kind: 'error', detail: error.message };
  }
}
