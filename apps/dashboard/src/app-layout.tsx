import type { ReactNode } from 'react';
import { NavLink } from 'react-router';
import { useSession } from './auth/session';
import { useStreamState } from './live/transaction-events';

/** Header (navigation, who is signed in, live-stream state), the open-mode banner, then the page. */
export function AppLayout({ children }: { children: ReactNode }) {
  const { me, permissions, signOut } = useSession();
  const stream = useStreamState();
  return (
    <>
      <header className="app-header">
        <span className="brand">txc</span>
        <nav>
          <NavLink to="/" end>
            Overview
          </NavLink>
          <NavLink to="/transactions">Transactions</NavLink>
          <NavLink to="/participants">Participants</NavLink>
          {permissions.manageKeys && <NavLink to="/keys">Keys</NavLink>}
        </nav>
        <span className={`stream-state stream-${stream}`} data-testid="stream-state" data-state={stream}>
          {stream === 'live' ? '● live' : stream === 'stopped' ? '○ not live' : '○ connecting…'}
        </span>
        <span className="identity" data-testid="identity">
          {me.open ? 'anonymous (open mode)' : `${me.name} · ${me.role}`}
        </span>
        {!me.open && (
          <button onClick={() => signOut()} data-testid="sign-out">
            Sign out
          </button>
        )}
      </header>
      {me.open && (
        <div className="banner banner-warning" role="status" data-testid="open-mode-banner">
          Open mode: no API keys configured, anyone can do anything
        </div>
      )}
      <main className="page">{children}</main>
    </>
  );
}
