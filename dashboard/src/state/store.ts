// DashboardStore: the cluster's live state as the views read it. It loads a
// snapshot through DistributedProcessingService, keeps it current with the
// service's subscription feeds (events come in batches, one per animation
// frame, so a burst costs one render), and loads it again whenever the
// service says events may have been missed (a reconnection).

import { createContext, useContext, useSyncExternalStore } from 'react';

import type { DistributedProcessingService } from '../service/DistributedProcessingService';
import type {
  Alert,
  ConnectionState,
  DistributedProcessingConfig,
  NodeStatus,
  ProcessingNode,
  StoreHealth,
  TaskSummary,
} from '../service/types';
import {
  ClockOffset,
  effectiveNodeStatus,
  applyAlertEvents,
  countsFrom,
  emptyCounts,
  offlineAfterMs,
  pushHealthSample,
  type Counts,
  type NodeHistory,
} from './reducers';

export interface DashboardState {
  connection: ConnectionState;
  /** Whether the node reaches its store (Redis): while not, what is shown is the last known state. */
  store: StoreHealth;
  /** Whether the first snapshot arrived. */
  loaded: boolean;
  /** The error of the last snapshot load, if it failed. */
  loadError: string | null;
  /** Nodes by id, and their ids sorted by name. */
  nodes: Record<string, ProcessingNode>;
  nodeOrder: string[];
  history: Record<string, NodeHistory>;
  config: DistributedProcessingConfig | null;
  taskTypes: string[];
  counts: Counts;
  /** Latest final failures (FAILED, TIMED_OUT), newest first. */
  failures: TaskSummary[];
  /** The firing alerts, then the recently resolved ones (see compareAlerts). */
  alerts: Alert[];
  /** The browser's clock, ticking every second, for ages and offline detection. */
  now: number;
  /** ms the server's clock is behind the browser's (see ClockOffset). */
  clockOffset: number;
  /**
   * When (server time, ms) the node last said, in answer to a query, that a
   * node was not offline: as good as a heartbeat (see shownNodeStatus).
   */
  vouched: Record<string, number>;
  /**
   * A node's heartbeats are late and the page asked the node why: until it
   * answers, no node is called offline (the answer may be that the store,
   * not the node, is gone).
   */
  checking: boolean;
}

type Listener = () => void;

const MAX_FAILURES = 12;

/** How often, at most, the dashboard asks whether the store is back, or why heartbeats stopped. */
const PROBE_INTERVAL_MS = 1000;

export class DashboardStore {
  state: DashboardState;
  private listeners = new Set<Listener>();
  private taskListeners = new Set<(tasks: TaskSummary[]) => void>();
  private resyncListeners = new Set<() => void>();
  private offset = new ClockOffset();
  private countsTimer: ReturnType<typeof setTimeout> | null = null;
  private countsFetchedAt = 0;
  private stops: (() => void)[] = [];
  private loading: Promise<void> | null = null;
  private reloadAgain = false;
  /** Alert events received while a snapshot loads: applied on top of it. */
  private alertsDuringLoad: Alert[] | null = null;
  /**
   * Nodes removed through the API, with their last heartbeat then: an event
   * or a snapshot that was on its way meanwhile does not bring them back;
   * a newer heartbeat (the node restarted) does.
   */
  private removed = new Map<string, number>();
  private lastProbe = 0;
  private probing = false;

  constructor(readonly service: DistributedProcessingService) {
    this.state = {
      connection: service.connection(),
      store: service.storeHealth(),
      loaded: false,
      loadError: null,
      nodes: {},
      nodeOrder: [],
      history: {},
      config: null,
      taskTypes: [],
      counts: emptyCounts(),
      failures: [],
      alerts: [],
      now: Date.now(),
      clockOffset: 0,
      vouched: {},
      checking: false,
    };
  }

  /** Opens the feeds and loads the first snapshot. */
  start(): void {
    const s = this.service;
    this.stops.push(
      s.onConnectionChange((connection) => this.set({ connection })),
      s.onStoreHealthChange((store) => {
        const back = store.reachable && !this.state.store.reachable;
        this.set({ store });
        // Heartbeats and events missed meanwhile: load everything again.
        if (back) this.readAgain();
      }),
      s.onResync(() => {
        this.offset.reset();
        this.readAgain();
      }),
      s.onNodeUpdates((nodes) => this.applyNodes(nodes, true)),
      s.onTaskUpdates((tasks) => this.applyTasks(tasks)),
      s.onConfigUpdates((configs) => this.setConfig(configs[configs.length - 1])),
      s.onAlertUpdates((alerts) => this.applyAlerts(alerts)),
    );
    const tick = setInterval(() => {
      const now = Date.now();
      this.set({ now });
      this.probe(now);
    }, 1000);
    this.stops.push(() => clearInterval(tick));
    void this.reload();
    // That first read races the feeds' opening: a change made between
    // the two would be missed. Read once more when the node has opened
    // them (the first read stays, so that the page does not wait for the
    // WebSocket to show something).
    let stopped = false;
    this.stops.push(() => (stopped = true));
    s.opened().then(
      () => {
        if (!stopped) this.readAgain();
      },
      () => {},
    );
  }

  /** Loads everything again, and has the views read what they show again. */
  private readAgain(): void {
    void this.reload();
    for (const l of this.resyncListeners) l();
  }

  stop(): void {
    for (const f of this.stops.splice(0)) f();
    if (this.countsTimer) clearTimeout(this.countsTimer);
  }

  // ---- subscriptions for views ----

  subscribe = (l: Listener): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };

  /**
   * Hands the task events received but held back by the batching to the
   * views now: a view calls it before it reads tasks, so that an event of
   * before its read does not arrive after it, as if it were news (a task
   * deleted meanwhile would come back).
   */
  flushTasks(): void {
    this.service.flushTaskUpdates();
  }

  /** Task events in batches, for the views that show tasks. */
  onTasks(l: (tasks: TaskSummary[]) => void): () => void {
    this.taskListeners.add(l);
    return () => this.taskListeners.delete(l);
  }

  /** Called when events may have been missed: views refetch what they show. */
  onResync(l: () => void): () => void {
    this.resyncListeners.add(l);
    return () => this.resyncListeners.delete(l);
  }

  private set(patch: Partial<DashboardState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }

  // ---- derived values ----

  /** The server's clock now, as estimated from heartbeats. */
  serverNow(): number {
    return this.state.now - this.state.clockOffset;
  }

  /**
   * A node's status with OFFLINE detected client-side (only while the feed is
   * live, and the node reaches its store: heartbeats that cannot be written
   * say nothing about the nodes).
   */
  nodeStatus(node: ProcessingNode): NodeStatus {
    const s = this.state;
    return shownNodeStatus(node, this.serverNow(), s.config, heartbeatsLive(s), s.vouched[node.id]);
  }

  /** Records that the node, answering a query, called these nodes alive now. */
  private vouch(nodes: ProcessingNode[]): Record<string, number> {
    const at = Date.now() - this.state.clockOffset;
    const vouched = { ...this.state.vouched };
    for (const n of nodes) if (n.status !== 'OFFLINE') vouched[n.id] = at;
    return vouched;
  }

  /**
   * Asks the node for its nodes when heartbeats stopped arriving (is it
   * the nodes, or the store?) or while the store is out of reach (is it
   * back?): at most every PROBE_INTERVAL_MS, never when all is well.
   */
  private probe(now: number): void {
    if (this.probing || now - this.lastProbe < PROBE_INTERVAL_MS || this.state.connection.phase !== 'online') return;
    // Late: half the time after which a node counts as offline is gone
    // without a heartbeat, so that the answer comes before the node would
    // look offline for want of it.
    const s = this.state;
    const serverNow = now - s.clockOffset;
    const late = Object.values(s.nodes).some(
      (n) => n.status !== 'OFFLINE' && serverNow - Math.max(Date.parse(n.lastHeartbeat), s.vouched[n.id] ?? 0) > offlineAfterMs(s.config) / 2,
    );
    if (s.store.reachable && !late) return;
    this.lastProbe = now;
    this.probing = true;
    if (late) this.set({ checking: true });
    this.service
      .listNodes()
      .then((nodes) => {
        this.applyNodes(nodes);
        this.set({ vouched: this.vouch(nodes) });
      })
      .catch(() => {
        // UNAVAILABLE reaches the state through onStoreHealthChange.
      })
      .finally(() => {
        this.probing = false;
        if (this.state.checking) this.set({ checking: false });
      });
  }

  // ---- loading ----

  /** Loads the snapshot; a call while one is in flight loads once more after it. */
  reload(): Promise<void> {
    if (this.loading) {
      this.reloadAgain = true;
      return this.loading;
    }
    this.loading = (async () => {
      this.alertsDuringLoad = [];
      try {
        const snap = await this.service.loadSnapshot();
        const nodes: Record<string, ProcessingNode> = {};
        let history = this.state.history;
        for (const n of snap.nodes) {
          if (this.isRemoved(n)) continue;
          nodes[n.id] = n;
          history = { ...history, [n.id]: pushHealthSample(history[n.id], n) };
        }
        if (snap.leader && nodes[snap.leader.id]) {
          // The leader query is the authority; heartbeats may lag it.
          for (const n of Object.values(nodes)) nodes[n.id] = { ...n, isLeader: n.id === snap.leader.id };
        }
        this.set({
          loaded: true,
          loadError: null,
          vouched: this.vouch(Object.values(nodes)),
          nodes,
          nodeOrder: sortNodeIds(nodes),
          history,
          config: snap.config,
          taskTypes: snap.taskTypes,
          counts: countsFrom(snap.taskCounts),
          failures: snap.recentFailures.slice(0, MAX_FAILURES),
          // The snapshot replaces the list; an alert that fired or resolved
          // while it loaded may be missing from it, or shown in its former
          // state: the events seen meanwhile are applied again on top.
          alerts: applyAlertEvents(applyAlertEvents([], snap.alerts), this.alertsDuringLoad ?? []),
        });
      } catch (err) {
        this.set({ loadError: (err as Error).message });
      } finally {
        this.alertsDuringLoad = null;
        this.loading = null;
        if (this.reloadAgain) {
          this.reloadAgain = false;
          void this.reload();
        }
      }
    })();
    return this.loading;
  }

  // ---- events ----

  /** Applies node events (or a mutation's result, live=false). */
  applyNodes(list: ProcessingNode[], live = false): void {
    const nodes = { ...this.state.nodes };
    let history = this.state.history;
    let added = false;
    const now = Date.now();
    for (const n of list) {
      if (this.isRemoved(n)) continue;
      if (!nodes[n.id]) added = true;
      nodes[n.id] = n;
      history = { ...history, [n.id]: pushHealthSample(history[n.id], n) };
      if (live) this.offset.add(now, n.lastHeartbeat);
      if (n.isLeader) {
        for (const other of Object.values(nodes)) {
          if (other.id !== n.id && other.isLeader) nodes[other.id] = { ...other, isLeader: false };
        }
      }
    }
    this.set({
      nodes,
      history,
      nodeOrder: added ? sortNodeIds(nodes) : this.state.nodeOrder,
      clockOffset: this.offset.value,
    });
  }

  /** Applies alert events: an alert fired, or resolved. */
  applyAlerts(alerts: Alert[]): void {
    this.alertsDuringLoad?.push(...alerts);
    this.set({ alerts: applyAlertEvents(this.state.alerts, alerts) });
  }

  /** Takes a configuration returned by updateConfig (its event follows). */
  setConfig(config: DistributedProcessingConfig): void {
    if (!this.state.config || config.version >= this.state.config.version) this.set({ config });
  }

  /** Forgets a node removed through the API. */
  forgetNode(id: string): void {
    const last = this.state.nodes[id]?.lastHeartbeat;
    this.removed.set(id, last ? Date.parse(last) : 0);
    const nodes = { ...this.state.nodes };
    delete nodes[id];
    this.set({ nodes, nodeOrder: sortNodeIds(nodes) });
  }

  /** Reports whether n is a removed node as it was before its removal. */
  private isRemoved(n: ProcessingNode): boolean {
    const at = this.removed.get(n.id);
    if (at === undefined) return false;
    if (Date.parse(n.lastHeartbeat) > at) {
      this.removed.delete(n.id); // it came back
      return false;
    }
    return true;
  }

  /** Applies task events (or a mutation's result). */
  applyTasks(tasks: TaskSummary[]): void {
    let failures = this.state.failures;
    for (const t of tasks) {
      if (t.status === 'FAILED' || t.status === 'TIMED_OUT') {
        failures = [t, ...failures.filter((f) => f.id !== t.id)].slice(0, MAX_FAILURES);
      } else if (failures.some((f) => f.id === t.id)) {
        failures = failures.filter((f) => f.id !== t.id); // retried
      }
    }
    this.set({ failures });
    this.scheduleCountsRefresh();
    for (const l of this.taskListeners) l(tasks);
  }

  /**
   * The counts by status come from the server (taskCounts): events arrive
   * behind the store under load, so counting them on top of a fetched count
   * would count some twice. They are fetched again shortly after task
   * events, at most once a second while events flow, and never when idle.
   */
  private scheduleCountsRefresh(): void {
    if (this.countsTimer) return;
    const delay = Math.max(100, 1000 - (Date.now() - this.countsFetchedAt));
    this.countsTimer = setTimeout(async () => {
      this.countsFetchedAt = Date.now();
      try {
        const c = await this.service.taskCounts();
        this.set({ counts: countsFrom(c) });
      } catch {
        // Offline: the resync on reconnection loads them again.
      } finally {
        this.countsTimer = null;
      }
    }, delay);
  }
}

function sortNodeIds(nodes: Record<string, ProcessingNode>): string[] {
  return Object.values(nodes)
    .sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }) || a.id.localeCompare(b.id))
    .map((n) => n.id);
}

/**
 * Whether a heartbeat that stopped coming means its node is gone: only while
 * the page's feed is live and the node reaches its store (a store out of
 * reach takes no heartbeats, whatever the nodes do).
 */
export function heartbeatsLive(s: DashboardState): boolean {
  return s.connection.phase === 'online' && s.store.reachable && !s.checking;
}

/**
 * The status to show for node n: OFFLINE when heartbeats are live and
 * neither a heartbeat nor the node's answer to a query (vouchedAt, server
 * time) said it was alive lately; else the status as last known.
 */
export function shownNodeStatus(
  n: ProcessingNode,
  serverNow: number,
  config: DistributedProcessingConfig | null,
  live: boolean,
  vouchedAt?: number,
): NodeStatus {
  if (!live) return n.status;
  const last = Date.parse(n.lastHeartbeat);
  if (vouchedAt !== undefined && n.status !== 'OFFLINE' && !(last >= vouchedAt)) {
    return effectiveNodeStatus({ ...n, lastHeartbeat: new Date(vouchedAt).toISOString() }, serverNow, config);
  }
  return effectiveNodeStatus(n, serverNow, config);
}

// ---- React glue ----

export const StoreContext = createContext<DashboardStore | null>(null);

export function useStore(): DashboardStore {
  const s = useContext(StoreContext);
  if (!s) throw new Error('useStore outside StoreContext');
  return s;
}

/** The service, for views that load or change things themselves (task pages, forms). */
export function useService(): DistributedProcessingService {
  return useStore().service;
}

/** Selects a value of the store's state; the component renders again when it changes. */
export function useDashboard<T>(select: (s: DashboardState) => T): T {
  const store = useStore();
  return useSyncExternalStore(store.subscribe, () => select(store.state));
}
