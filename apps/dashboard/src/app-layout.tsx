import type { ReactNode } from 'react';
import { NavLink } from 'react-router';
import { useSession } from './auth/session';
import { CoordinatorHealthBanner, useCoordinatorHealth } from './live/coordinator-health';
import { useStreamState } from './live/transaction-events';

/** Header (navigation, who is signed in, live-stream state), the open-mode and health banners, then the page. */
export function AppLayout({ children }: { children: ReactNode }) {
  const { me, permissions, signOut, openModeEnded } = useSession();
  const stream = useStreamState();
  const health = useCoordinatorHealth();
  return (
    <>
      <header className="app-header">
        <span className="brand">txc</span>
        <nav>
          {permissions.read && (
            <>
              <NavLink to="/" end>
                Overview
              </NavLink>
              <NavLink to="/transactions">Transactions</NavLink>
              <NavLink to="/participants">Participants</NavLink>
            </>
          )}
          {permissions.manageKeys && <NavLink to="/keys">Keys</NavLink>}
        </nav>
        <span className={`stream-state stream-${stream}`} data-testid="stream-state" data-state={stream}>
          {stream === 'live' ? '● live' : stream === 'stopped' ? '○ not live' : '○ connecting…'}
        </span>
        <span className="identity" data-testid="identity">
          {me.open
            ? openModeEnded
              ? 'anonymous (open mode ended)'
              : 'anonymous (open mode)'
            : `${me.name} · ${me.role}`}
        </span>
        {(!me.open || openModeEnded) && (
          <button onClick={() => signOut()} data-testid="sign-out">
            Sign out
          </button>
        )}
      </header>
      {me.open && !openModeEnded && (
        <div className="banner banner-warning" role="status" data-testid="open-mode-banner">
          Open mode: no API keys configured, anyone can do anything
        </div>
      )}
      {openModeEnded && (
        <div className="banner banner-warning" role="status" data-testid="open-mode-ended-banner">
          Open mode has ended: every call now needs a key. Sign in with the one you created.
        </div>
      )}
      <CoordinatorHealthBanner health={health} />
      <main className="page">{children}</main>
    </>
  );
}
