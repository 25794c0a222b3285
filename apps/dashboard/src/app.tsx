import { Navigate, Route, Routes } from 'react-router';
import { AppLayout } from './app-layout';
import { SessionGate, useSession } from './auth/session';
import { KeysPage } from './keys/keys.page';
import { TransactionEventsProvider } from './live/transaction-events';
import { OverviewPage } from './overview/overview.page';
import { ParticipantsPage } from './participants/participants.page';
import { TransactionPage } from './transaction/transaction.page';
import { TransactionsPage } from './transactions/transactions.page';

/** Sign-in (unless open mode), then the pages; every path is a deep link the coordinator serves. */
export function App() {
  return (
    <SessionGate>
      <TransactionEventsProvider>
        <AppLayout>
          <AppRoutes />
        </AppLayout>
      </TransactionEventsProvider>
    </SessionGate>
  );
}

function AppRoutes() {
  const { me, permissions } = useSession();
  // a key that reads nothing (a participant's) has no page here: one message instead of a 403 on each
  if (!permissions.read) {
    return (
      <p className="page-message" role="status" data-testid="no-read-access">
        The key "{me.name}" has role {me.role}: it registers participants and renews their leases, and may not read
        transactions, participants or stats. Sign out, then sign in with a viewer&apos;s key or above.
      </p>
    );
  }
  return (
    <Routes>
      <Route path="/" element={<OverviewPage />} />
      <Route path="/transactions" element={<TransactionsPage />} />
      <Route path="/transactions/:id" element={<TransactionPage />} />
      <Route path="/participants" element={<ParticipantsPage />} />
      <Route path="/keys" element={permissions.manageKeys ? <KeysPage /> : <Navigate to="/" replace />} />
      <Route path="*" element={<p className="page-message">No such page.</p>} />
    </Routes>
  );
}
