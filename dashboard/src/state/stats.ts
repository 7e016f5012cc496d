// The overview's statistics come from the cluster (the stats query, answered
// from rollups the store keeps), not from the events this tab happened to
// see: a reload, a second tab or another node show the same figures. They
// are fetched when the view opens, every few seconds while it stays open,
// soon after task events (at most once a second while they flow), and
// after a reconnection.

import { useEffect, useRef, useState } from 'react';

import type { OverviewStats } from '../service/types';
import { useStore } from './store';

/** How often the statistics are fetched while nothing happens. */
export const STATS_POLL_MS = 5000;
/** The least time between two fetches caused by task events. */
export const STATS_EVENT_DEBOUNCE_MS = 1000;

export interface StatsState {
  data: OverviewStats | null;
  /** The group data is of ('' the whole cluster). */
  group: string;
  error: string | null;
  /** Whether a fetch for the current window is in flight before any data for it. */
  loading: boolean;
}

/** Polls the stats query for windowSeconds (of one group's tasks when group is set) while the calling view is mounted. */
export function useClusterStats(windowSeconds: number, group = ''): StatsState {
  const store = useStore();
  const [state, setState] = useState<StatsState>({ data: null, group, error: null, loading: true });
  const last = useRef(0);

  useEffect(() => {
    let stopped = false;
    let inFlight = false;
    let again = false;
    let poll: ReturnType<typeof setTimeout> | null = null;
    let debounce: ReturnType<typeof setTimeout> | null = null;
    // What shows stays while the next window loads, not what another group's figures were.
    setState((s) => ({
      data: s.data && s.data.stats.windowSeconds === windowSeconds && s.group === group ? s.data : null,
      group,
      error: null,
      loading: true,
    }));

    const fetchNow = async () => {
      if (stopped) return;
      if (inFlight) {
        again = true;
        return;
      }
      inFlight = true;
      if (poll) clearTimeout(poll);
      last.current = Date.now();
      try {
        const data = await store.service.stats(windowSeconds, group);
        if (!stopped) setState({ data, group, error: null, loading: false });
      } catch (err) {
        if (!stopped) setState((s) => ({ ...s, error: (err as Error).message, loading: false }));
      } finally {
        inFlight = false;
        if (!stopped) {
          if (again) {
            again = false;
            void fetchNow();
          } else {
            poll = setTimeout(() => void fetchNow(), STATS_POLL_MS);
          }
        }
      }
    };
    const soon = () => {
      if (debounce || stopped) return;
      const wait = Math.max(100, last.current + STATS_EVENT_DEBOUNCE_MS - Date.now());
      debounce = setTimeout(() => {
        debounce = null;
        void fetchNow();
      }, wait);
    };

    void fetchNow();
    const offTasks = store.onTasks(soon);
    const offResync = store.onResync(() => void fetchNow());
    return () => {
      stopped = true;
      offTasks();
      offResync();
      if (poll) clearTimeout(poll);
      if (debounce) clearTimeout(debounce);
    };
  }, [store, windowSeconds, group]);

  return state;
}
