import { useQueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { openTransactionStream, type StreamState } from '../api/transaction-stream';
import type { StatusEvent } from '../api/wire-types';
import { useSession } from '../auth/session';

type Listener = (event: StatusEvent) => void;

interface TransactionEvents {
  subscribe(listener: Listener): () => void;
  state: StreamState;
}

const EventsContext = createContext<TransactionEvents | null>(null);

/**
 * One live stream for the whole signed-in dashboard; pages subscribe to its status events. After a
 * reconnection every transaction query is fetched again: changes made while no id was known to
 * resume from would otherwise be missed.
 */
export function TransactionEventsProvider({ children }: { children: ReactNode }) {
  const { api, signOut } = useSession();
  const queryClient = useQueryClient();
  const listeners = useRef(new Set<Listener>());
  const [state, setState] = useState<StreamState>('connecting');
  const dropped = useRef(false);

  useEffect(
    () =>
      openTransactionStream({
        headers: () => api.authHeaders(),
        onEvent: (event) => listeners.current.forEach((listener) => listener(event)),
        onState: (next) => {
          if (next === 'reconnecting') dropped.current = true;
          if (next === 'live' && dropped.current) {
            dropped.current = false;
            void queryClient.invalidateQueries({ queryKey: ['transactions'] });
            void queryClient.invalidateQueries({ queryKey: ['transaction'] });
          }
          setState(next);
        },
        onReset: () => {
          void queryClient.invalidateQueries({ queryKey: ['transactions'] });
          void queryClient.invalidateQueries({ queryKey: ['transaction'] });
        },
        onUnauthorized: (problem) => signOut(problem.detail),
        onDrop: (reason) => console.info(`live stream dropped (${reason}); reconnecting`),
      }),
    [api, signOut, queryClient],
  );

  const subscribe = useCallback((listener: Listener) => {
    listeners.current.add(listener);
    return () => void listeners.current.delete(listener);
  }, []);
  const value = useMemo<TransactionEvents>(() => ({ state, subscribe }), [state, subscribe]);
  return <EventsContext.Provider value={value}>{children}</EventsContext.Provider>;
}

function useEvents(): TransactionEvents {
  const events = useContext(EventsContext);
  if (!events) throw new Error('useTransactionEvents outside of TransactionEventsProvider');
  return events;
}

/** Calls `listener` (the latest one given) for each status event of the live stream. */
export function useTransactionEvents(listener: Listener): void {
  const { subscribe } = useEvents();
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => subscribe((event) => latest.current(event)), [subscribe]);
}

export function useStreamState(): StreamState {
  return useEvents().state;
}
