// DistributedProcessingService holds all of the dashboard's GraphQL access:
// queries and mutations over HTTP (urql), subscriptions over one WebSocket
// (graphql-ws, the graphql-transport-ws protocol). Components never talk to
// GraphQL themselves: they call this service, or read the DashboardStore that
// it feeds.
//
// The WebSocket reconnects by itself with a capped, jittered exponential
// backoff; its subscriptions are resumed on the new socket, and every
// reconnection (or restarted feed) is announced through onResync, so that
// the views refetch what they show: events sent while the socket was down
// are lost.
//
// With an API key, HTTP requests carry it as Authorization: Bearer and the
// WebSocket sends it in connection_init. A key the node refuses (a 4401
// close, an UNAUTHENTICATED error) is reported through onAuthError, a
// FORBIDDEN error through onForbidden; the service does not decide what
// follows.

import { Client, CombinedError, fetchExchange, subscriptionExchange, type AnyVariables } from '@urql/core';
import { createClient as createWSClient, type Client as WSClient } from 'graphql-ws';
import { onEnd, pipe, subscribe } from 'wonka';

import { CLOSE_UNAUTHORIZED, CODE_FORBIDDEN, CODE_UNAUTHENTICATED, authHeaders, connectionParams } from '../lib/auth';
import * as ops from './operations';
import type {
  Alert,
  ClusterSnapshot,
  ConfigInput,
  ConnectionState,
  DistributedProcessingConfig,
  NodeInput,
  OverviewStats,
  ProcessingNode,
  Schedule,
  ScheduleInput,
  Limit,
  LimitInput,
  TaskTypeState,
  StoreHealth,
  SubmitTaskInput,
  TaskCount,
  TaskGroup,
  TaskDetail,
  TaskFilter,
  TaskPage,
  TaskSummary,
  Workflow,
  WorkflowFilter,
  WorkflowInput,
  WorkflowPage,
  WorkflowSummary,
} from './types';

/** The code of an error that says the node cannot reach its store (Redis down). */
export const CODE_UNAVAILABLE = 'UNAVAILABLE';

/** An error of a GraphQL request, with the API's extensions.code when it gave one. */
export class GraphQLRequestError extends Error {
  readonly code: string | null;
  readonly network: boolean;

  constructor(message: string, code: string | null, network: boolean) {
    super(message);
    this.name = 'GraphQLRequestError';
    this.code = code;
    this.network = network;
  }
}

function toRequestError(err: CombinedError): GraphQLRequestError {
  if (err.networkError && err.graphQLErrors.length === 0) {
    // graphql-ws ends subscriptions with the socket's CloseEvent, which has no message.
    const ne = err.networkError as Error & { code?: number; reason?: string };
    const why = ne.message || (typeof ne.code === 'number' ? `closed ${ne.code}${ne.reason ? `: ${ne.reason}` : ''}` : String(ne));
    if (ne.code === CLOSE_UNAUTHORIZED) return new GraphQLRequestError(`The node refused the key (${why})`, CODE_UNAUTHENTICATED, false);
    return new GraphQLRequestError(`Cannot reach the node (${why})`, null, true);
  }
  const first = err.graphQLErrors[0];
  const code = typeof first?.extensions?.code === 'string' ? (first.extensions.code as string) : null;
  return new GraphQLRequestError(first?.message ?? err.message, code, false);
}

/** Reconnection delays: 0.5 s doubling to at most 5 s, plus up to 30 % jitter. */
export function backoffDelay(attempt: number, baseMs = 500, maxMs = 5000, random = Math.random): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(d * (1 + 0.3 * random()));
}

type Unsubscribe = () => void;

/**
 * Collects items and hands them over in one batch per animation frame (or
 * within 250 ms when the page is hidden and frames stop), and at most one
 * batch per minIntervalMs, so that a burst of events costs one render, not
 * one each.
 */
export class FrameBatcher<T> {
  private pending: T[] = [];
  private scheduled = false;
  private lastFlush = 0;
  private readonly flushFn: (items: T[]) => void;
  private readonly minIntervalMs: number;

  constructor(flush: (items: T[]) => void, minIntervalMs = 0) {
    this.flushFn = flush;
    this.minIntervalMs = minIntervalMs;
  }

  push(item: T): void {
    this.pending.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    let done = false;
    const run = () => {
      if (done) return;
      done = true;
      this.scheduled = false;
      this.lastFlush = Date.now();
      const items = this.pending;
      this.pending = [];
      if (items.length > 0) this.flushFn(items);
    };
    const onFrame = () => {
      if (typeof requestAnimationFrame === 'function') requestAnimationFrame(run);
      setTimeout(run, 250);
    };
    const wait = this.lastFlush + this.minIntervalMs - Date.now();
    if (wait > 0) setTimeout(onFrame, wait);
    else onFrame();
  }
}

/** A shared subscription: opened for the first listener, closed after the last. */
class Feed<T> {
  private listeners = new Set<(items: T[]) => void>();
  private stop: Unsubscribe | null = null;
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  private readonly batcher: FrameBatcher<T>;

  constructor(
    private readonly open: (onItem: (item: T) => void, onEnd: (err: GraphQLRequestError | null) => void) => Unsubscribe,
    private readonly onRestart: () => void,
    minIntervalMs = 0,
  ) {
    this.batcher = new FrameBatcher<T>((items) => {
      for (const l of this.listeners) l(items);
    }, minIntervalMs);
  }

  listen(l: (items: T[]) => void): Unsubscribe {
    this.listeners.add(l);
    if (this.listeners.size === 1) this.start();
    return () => {
      this.listeners.delete(l);
      if (this.listeners.size === 0) this.halt();
    };
  }

  private start(): void {
    let ended = false;
    this.stop = this.open(
      (item) => {
        this.failures = 0;
        this.batcher.push(item);
      },
      (err) => {
        if (ended) return;
        ended = true;
        this.stop = null;
        if (this.listeners.size === 0) return;
        // The server ended the feed (a slow subscriber is dropped with
        // CONFLICT) or it failed: open it again, and resynchronise since
        // events were missed.
        if (err) console.warn('subscription ended:', err.message);
        const delay = backoffDelay(this.failures++, 500, 10000);
        this.restartTimer = setTimeout(() => {
          this.restartTimer = null;
          if (this.listeners.size > 0 && !this.stop) {
            this.start();
            this.onRestart();
          }
        }, delay);
      },
    );
    const stop = this.stop;
    this.stop = () => {
      ended = true;
      stop();
    };
  }

  private halt(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.stop?.();
    this.stop = null;
  }
}

export interface ServiceOptions {
  /** The GraphQL endpoint over HTTP; default: /graphql on this page's origin. */
  httpUrl?: string;
  /** The GraphQL endpoint over WebSocket; default: ws(s)://this page's host/graphql. */
  wsUrl?: string;
  /** How often the client pings the server, in ms (default 10000); a missing pong within pongTimeoutMs closes the socket. */
  keepAliveMs?: number;
  pongTimeoutMs?: number;
  /** The API key to send, if any. */
  apiKey?: string | null;
  /** Called when the node refuses the key: a 4401 close or an UNAUTHENTICATED error. */
  onAuthError?: (reason: string) => void;
  /** Called when the node refuses an operation to the key's role (FORBIDDEN). */
  onForbidden?: (message: string) => void;
}

function defaultWsUrl(): string {
  const { protocol, host } = window.location;
  return `${protocol === 'https:' ? 'wss' : 'ws'}://${host}/graphql`;
}

export class DistributedProcessingService {
  private readonly client: Client;
  private readonly ws: WSClient;
  private state: ConnectionState = {
    phase: 'connecting',
    everConnected: false,
    attempt: 0,
    nextRetryAt: null,
    since: Date.now(),
    reason: null,
  };
  private readonly connectionListeners = new Set<(s: ConnectionState) => void>();
  private store: StoreHealth = { reachable: true, message: null, since: null };
  private readonly storeListeners = new Set<(s: StoreHealth) => void>();
  private readonly resyncListeners = new Set<() => void>();
  private readonly taskFeed: Feed<TaskSummary>;
  private readonly nodeFeed: Feed<ProcessingNode>;
  private readonly configFeed: Feed<DistributedProcessingConfig>;
  private readonly alertFeed: Feed<Alert>;
  private pongTimer: ReturnType<typeof setTimeout> | null = null;
  private disposed = false;
  private readonly onAuthError: (reason: string) => void;
  private readonly onForbidden: (message: string) => void;

  constructor(opts: ServiceOptions = {}) {
    const keepAlive = opts.keepAliveMs ?? 10000;
    const pongTimeout = opts.pongTimeoutMs ?? 5000;
    const key = opts.apiKey ?? null;
    this.onAuthError = (reason) => {
      if (!this.disposed) opts.onAuthError?.(reason);
    };
    this.onForbidden = (message) => {
      if (!this.disposed) opts.onForbidden?.(message);
    };
    let socket: WebSocket | null = null;

    this.ws = createWSClient({
      url: opts.wsUrl ?? defaultWsUrl(),
      lazy: false,
      // A browser cannot set headers on a WebSocket: the key goes in
      // connection_init, read again at every (re)connection.
      connectionParams: () => connectionParams(key),
      keepAlive,
      retryAttempts: Infinity,
      shouldRetry: () => true,
      retryWait: async (retries) => {
        const delay = backoffDelay(retries);
        this.setState({ attempt: retries + 1, nextRetryAt: Date.now() + delay });
        await new Promise((resolve) => setTimeout(resolve, delay));
        this.setState({ nextRetryAt: null });
      },
      onNonLazyError: (err) => console.warn('websocket:', err),
      on: {
        connected: (s) => {
          socket = s as WebSocket;
          const reconnected = this.state.everConnected;
          this.setState({ phase: 'online', everConnected: true, attempt: 0, nextRetryAt: null, since: Date.now(), reason: null });
          if (reconnected) this.emitResync();
        },
        closed: (event) => {
          socket = null;
          if (this.pongTimer) clearTimeout(this.pongTimer);
          const e = event as CloseEvent;
          const reason = e && typeof e.code === 'number' ? `closed (${e.code}${e.reason ? `: ${e.reason}` : ''})` : 'closed';
          // graphql-ws does not retry a 4401 either: the key is refused.
          if (e && e.code === CLOSE_UNAUTHORIZED) this.onAuthError(reason);
          if (this.state.phase !== 'offline') {
            this.setState({ phase: 'offline', since: Date.now(), reason });
          }
        },
        ping: (received) => {
          if (received) return;
          // Our ping: the pong must come back soon, or the socket is dead
          // without having said so (a cable pulled, a frozen peer).
          if (this.pongTimer) clearTimeout(this.pongTimer);
          this.pongTimer = setTimeout(() => {
            if (socket && socket.readyState === WebSocket.OPEN) socket.close(4408, 'pong timeout');
          }, pongTimeout);
        },
        pong: (received) => {
          if (received && this.pongTimer) clearTimeout(this.pongTimer);
        },
      },
    });

    const ws = this.ws;
    this.client = new Client({
      url: opts.httpUrl ?? '/graphql',
      requestPolicy: 'network-only',
      preferGetMethod: false,
      fetchOptions: () => ({ headers: authHeaders(key) }),
      exchanges: [
        subscriptionExchange({
          forwardSubscription(request) {
            const input = { ...request, query: request.query ?? '' };
            return {
              subscribe(sink) {
                const unsubscribe = ws.subscribe(input, sink);
                return { unsubscribe };
              },
            };
          },
        }),
        fetchExchange,
      ],
    });

    const resync = () => this.emitResync();
    // Task changes at most 5 times a second, heartbeats (one a second from
    // every node) at most twice: enough for the eye, and a cluster of 50
    // nodes costs two renders a second, not fifty.
    this.taskFeed = new Feed((item, end) => this.openSubscription(ops.TASK_UPDATED, {}, 'taskUpdated', item, end), resync, 200);
    this.nodeFeed = new Feed((item, end) => this.openSubscription(ops.NODE_UPDATED, {}, 'nodeUpdated', item, end), resync, 500);
    this.configFeed = new Feed((item, end) => this.openSubscription(ops.CONFIG_UPDATED, {}, 'configUpdated', item, end), resync);
    // Alerts fire and resolve seldom: no throttle beyond one batch a frame.
    this.alertFeed = new Feed((item, end) => this.openSubscription(ops.ALERT_UPDATED, {}, 'alertUpdated', item, end), resync);
  }

  // ---- connection ----

  /** The WebSocket's state now. */
  connection(): ConnectionState {
    return this.state;
  }

  /** Calls l with every change of the WebSocket's state. */
  onConnectionChange(l: (s: ConnectionState) => void): Unsubscribe {
    this.connectionListeners.add(l);
    return () => this.connectionListeners.delete(l);
  }

  /** Calls l when live events may have been missed (the socket came back, or a feed restarted): refetch. */
  onResync(l: () => void): Unsubscribe {
    this.resyncListeners.add(l);
    return () => this.resyncListeners.delete(l);
  }

  private setState(patch: Partial<ConnectionState>): void {
    if (this.disposed) return;
    this.state = { ...this.state, ...patch };
    for (const l of this.connectionListeners) l(this.state);
  }

  /** Whether the node reaches its store, as the last requests found. */
  storeHealth(): StoreHealth {
    return this.store;
  }

  /** Calls l when the node loses or regains its store (as requests find). */
  onStoreHealthChange(l: (s: StoreHealth) => void): Unsubscribe {
    this.storeListeners.add(l);
    return () => this.storeListeners.delete(l);
  }

  private setStoreHealth(reachable: boolean, message: string | null): void {
    if (this.disposed || (reachable && this.store.reachable)) return;
    if (!reachable && !this.store.reachable && message === this.store.message) return;
    this.store = { reachable, message, since: reachable ? null : (this.store.since ?? Date.now()) };
    for (const l of this.storeListeners) l(this.store);
  }

  private emitResync(): void {
    for (const l of this.resyncListeners) l();
  }

  /** Closes the WebSocket for good. */
  dispose(): void {
    this.disposed = true;
    if (this.pongTimer) clearTimeout(this.pongTimer);
    // dispose waits for a connection in progress, and rejects when that one
    // fails (a 4401): nothing is left to do about it.
    Promise.resolve(this.ws.dispose()).catch(() => {});
  }

  // ---- queries ----

  /** Turns a request's error into a GraphQLRequestError, reporting the ones about the key. */
  private fail(err: CombinedError): GraphQLRequestError {
    const e = toRequestError(err);
    if (e.code === CODE_UNAVAILABLE) this.setStoreHealth(false, e.message);
    if (e.code === CODE_UNAUTHENTICATED) this.onAuthError(e.message);
    else if (e.code === CODE_FORBIDDEN) this.onForbidden(e.message);
    return e;
  }

  private async query<T>(doc: string, vars: AnyVariables = {}): Promise<T> {
    const res = await this.client.query<T>(doc, vars).toPromise();
    if (res.error) throw this.fail(res.error);
    if (!res.data) throw new GraphQLRequestError('The node returned no data', null, false);
    this.setStoreHealth(true, null);
    return res.data;
  }

  private async mutate<T>(doc: string, vars: AnyVariables): Promise<T> {
    const res = await this.client.mutation<T>(doc, vars).toPromise();
    if (res.error) throw this.fail(res.error);
    if (!res.data) throw new GraphQLRequestError('The node returned no data', null, false);
    this.setStoreHealth(true, null);
    return res.data;
  }

  /**
   * Everything the overview needs at once: nodes, leader, config, task types
   * and counts, recent failures, and the alerts (firing and
   * recently resolved).
   */
  async loadSnapshot(): Promise<ClusterSnapshot> {
    type Edges = { edges: { node: TaskSummary }[] };
    const d = await this.query<Omit<ClusterSnapshot, 'recentFailures'> & { recentFailures: Edges }>(ops.SNAPSHOT_QUERY);
    return { ...d, recentFailures: d.recentFailures.edges.map((e) => e.node) };
  }

  /** The cluster's statistics over the last windowSeconds, and over the last minute. */
  /** The statistics of the last windowSeconds, of one group's tasks when group is given (not empty). */
  async stats(windowSeconds: number, group?: string): Promise<OverviewStats> {
    return this.query<OverviewStats>(ops.STATS_QUERY, { window: windowSeconds, group: group || null });
  }

  async listNodes(): Promise<ProcessingNode[]> {
    return (await this.query<{ nodes: ProcessingNode[] }>(ops.NODES_QUERY)).nodes;
  }

  async taskCounts(): Promise<TaskCount[]> {
    return (await this.query<{ taskCounts: TaskCount[] }>(ops.TASK_COUNTS_QUERY)).taskCounts;
  }

  /** The groups that have tasks, busiest first, with their counts. */
  async taskGroups(first = 20): Promise<TaskGroup[]> {
    return (await this.query<{ taskGroups: TaskGroup[] }>(ops.TASK_GROUPS_QUERY, { first })).taskGroups;
  }

  /** One page of tasks, newest first. */
  async listTasks(filter: TaskFilter, first: number, after: string | null): Promise<TaskPage> {
    const d = await this.query<{
      tasks: {
        totalCount: number;
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
        edges: { cursor: string; node: TaskSummary }[];
      };
    }>(ops.TASKS_QUERY, { filter: cleanFilter(filter), first, after });
    return {
      tasks: d.tasks.edges.map((e) => e.node),
      cursors: Object.fromEntries(d.tasks.edges.map((e) => [e.node.id, e.cursor])),
      hasNextPage: d.tasks.pageInfo.hasNextPage,
      endCursor: d.tasks.pageInfo.endCursor,
      totalCount: d.tasks.totalCount,
    };
  }

  /** The task with this id, or null. */
  async getTask(id: string): Promise<TaskDetail | null> {
    return (await this.query<{ task: TaskDetail | null }>(ops.TASK_QUERY, { id })).task;
  }

  // ---- mutations ----

  async submitTask(input: SubmitTaskInput): Promise<TaskDetail> {
    return (await this.mutate<{ submitTask: TaskDetail }>(ops.SUBMIT_TASK, { input })).submitTask;
  }

  async cancelTask(id: string): Promise<TaskDetail> {
    return (await this.mutate<{ cancelTask: TaskDetail }>(ops.CANCEL_TASK, { id })).cancelTask;
  }

  /** How many tasks the filter matches. */
  async countTasks(filter: TaskFilter): Promise<number> {
    return (await this.query<{ tasks: { totalCount: number } }>(ops.COUNT_TASKS, { filter: cleanFilter(filter) })).tasks.totalCount;
  }

  /** Cancels, retries or deletes every task the filter matches; returns how many changed. */
  async bulkTasks(op: 'cancel' | 'retry' | 'delete', filter: TaskFilter): Promise<number> {
    const field = `${op}Tasks` as const;
    const d = await this.mutate<Record<string, number>>(ops.BULK_TASKS[op], { filter: cleanFilter(filter) ?? {} });
    return d[field];
  }

  async retryTask(id: string): Promise<TaskDetail> {
    return (await this.mutate<{ retryTask: TaskDetail }>(ops.RETRY_TASK, { id })).retryTask;
  }

  async drainNode(id: string): Promise<ProcessingNode> {
    return (await this.mutate<{ drainNode: ProcessingNode }>(ops.DRAIN_NODE, { id })).drainNode;
  }

  async resumeNode(id: string): Promise<ProcessingNode> {
    return (await this.mutate<{ resumeNode: ProcessingNode }>(ops.RESUME_NODE, { id })).resumeNode;
  }

  async removeNode(id: string): Promise<boolean> {
    return (await this.mutate<{ removeNode: boolean }>(ops.REMOVE_NODE, { id })).removeNode;
  }

  async updateNode(id: string, input: NodeInput): Promise<ProcessingNode> {
    return (await this.mutate<{ updateNode: ProcessingNode }>(ops.UPDATE_NODE, { id, input })).updateNode;
  }

  async updateConfig(input: ConfigInput): Promise<DistributedProcessingConfig> {
    return (await this.mutate<{ updateConfig: DistributedProcessingConfig }>(ops.UPDATE_CONFIG, { input })).updateConfig;
  }

  // ---- schedules ----

  /** Every schedule, sorted by name. */
  async listSchedules(): Promise<Schedule[]> {
    return (await this.query<{ schedules: Schedule[] }>(ops.SCHEDULES_QUERY)).schedules;
  }

  /** The schedule of this name, or null when there is none. */
  async getSchedule(name: string): Promise<Schedule | null> {
    return (await this.query<{ schedule: Schedule | null }>(ops.SCHEDULE_QUERY, { name })).schedule;
  }

  async createSchedule(input: ScheduleInput): Promise<Schedule> {
    return (await this.mutate<{ createSchedule: Schedule }>(ops.CREATE_SCHEDULE, { input })).createSchedule;
  }

  /** Replaces the definition of the schedule named input.name (its paused state and last run stay). */
  async updateSchedule(input: ScheduleInput): Promise<Schedule> {
    return (await this.mutate<{ updateSchedule: Schedule }>(ops.UPDATE_SCHEDULE, { input })).updateSchedule;
  }

  async pauseSchedule(name: string): Promise<Schedule> {
    return (await this.mutate<{ pauseSchedule: Schedule }>(ops.PAUSE_SCHEDULE, { name })).pauseSchedule;
  }

  async resumeSchedule(name: string): Promise<Schedule> {
    return (await this.mutate<{ resumeSchedule: Schedule }>(ops.RESUME_SCHEDULE, { name })).resumeSchedule;
  }

  async deleteSchedule(name: string): Promise<boolean> {
    return (await this.mutate<{ deleteSchedule: boolean }>(ops.DELETE_SCHEDULE, { name })).deleteSchedule;
  }

  /** Submits the schedule's task now; returns that task. */
  async triggerSchedule(name: string): Promise<TaskSummary> {
    return (await this.mutate<{ triggerSchedule: TaskSummary }>(ops.TRIGGER_SCHEDULE, { name })).triggerSchedule;
  }

  // ---- flow control ----

  /** The limits with their use, and every task type with whether it is paused. */
  async flowControl(): Promise<{ limits: Limit[]; taskTypeStates: TaskTypeState[] }> {
    return this.query<{ limits: Limit[]; taskTypeStates: TaskTypeState[] }>(ops.FLOW_CONTROL_QUERY);
  }

  /** Sets the limit of the input's scope, replacing the one it had. */
  async setLimit(input: LimitInput): Promise<Limit> {
    return (await this.mutate<{ setLimit: Limit }>(ops.SET_LIMIT, { input })).setLimit;
  }

  async deleteLimit(id: string): Promise<boolean> {
    return (await this.mutate<{ deleteLimit: boolean }>(ops.DELETE_LIMIT, { id })).deleteLimit;
  }

  /** Pauses (true) or resumes a task type; whether that changed anything. */
  async pauseTaskType(type: string, paused: boolean): Promise<boolean> {
    if (paused) return (await this.mutate<{ pauseTaskType: boolean }>(ops.PAUSE_TASK_TYPE, { type })).pauseTaskType;
    return (await this.mutate<{ resumeTaskType: boolean }>(ops.RESUME_TASK_TYPE, { type })).resumeTaskType;
  }

  // ---- workflows ----

  /** One page of workflows, newest first. */
  async listWorkflows(filter: WorkflowFilter, first: number, after: string | null): Promise<WorkflowPage> {
    const d = await this.query<{
      workflows: {
        totalCount: number;
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
        edges: { cursor: string; node: WorkflowSummary }[];
      };
    }>(ops.WORKFLOWS_QUERY, { filter: cleanWorkflowFilter(filter), first, after });
    return {
      workflows: d.workflows.edges.map((e) => e.node),
      hasNextPage: d.workflows.pageInfo.hasNextPage,
      endCursor: d.workflows.pageInfo.endCursor,
      totalCount: d.workflows.totalCount,
    };
  }

  /** The workflow with this id and its steps, or null. */
  async getWorkflow(id: string): Promise<Workflow | null> {
    return (await this.query<{ workflow: Workflow | null }>(ops.WORKFLOW_QUERY, { id })).workflow;
  }

  async submitWorkflow(input: WorkflowInput): Promise<WorkflowSummary> {
    return (await this.mutate<{ submitWorkflow: WorkflowSummary }>(ops.SUBMIT_WORKFLOW, { input })).submitWorkflow;
  }

  async cancelWorkflow(id: string): Promise<WorkflowSummary> {
    return (await this.mutate<{ cancelWorkflow: WorkflowSummary }>(ops.CANCEL_WORKFLOW, { id })).cancelWorkflow;
  }

  async retryWorkflow(id: string): Promise<WorkflowSummary> {
    return (await this.mutate<{ retryWorkflow: WorkflowSummary }>(ops.RETRY_WORKFLOW, { id })).retryWorkflow;
  }

  /**
   * Every change of one workflow (its own fields, not its steps), the last
   * of each batch. When the feed had to be opened again (events were
   * missed), onRestart is called, for the view to load it again.
   */
  watchWorkflow(id: string, l: (w: WorkflowSummary) => void, onRestart: () => void): Unsubscribe {
    const feed = new Feed<WorkflowSummary>(
      (item, end) => this.openSubscription(ops.WORKFLOW_UPDATED, { id }, 'workflowUpdated', item, end),
      onRestart,
      250,
    );
    return feed.listen((items) => l(items[items.length - 1]));
  }

  // ---- subscriptions ----

  private openSubscription<T>(
    doc: string,
    vars: AnyVariables,
    field: string,
    onItem: (item: T) => void,
    end: (err: GraphQLRequestError | null) => void,
  ): Unsubscribe {
    // After an error result urql keeps the operation registered (it is torn
    // down only when its last subscriber leaves), and a new subscription
    // with the same query would share the dead one: so an error ends this
    // subscriber at once.
    let done = false;
    let sub: { unsubscribe: () => void } | null = null;
    const finish = (err: GraphQLRequestError | null) => {
      if (done) return;
      done = true;
      queueMicrotask(() => sub?.unsubscribe());
      end(err);
    };
    sub = pipe(
      this.client.subscription<Record<string, T>>(doc, vars),
      onEnd(() => finish(null)),
      subscribe((res) => {
        if (done) return;
        if (res.error) {
          finish(this.fail(res.error));
          return;
        }
        const item = res.data?.[field];
        if (item) onItem(item);
      }),
    );
    if (done) sub.unsubscribe();
    return () => {
      done = true;
      sub?.unsubscribe();
    };
  }

  /** Every change of every task, in batches (one per animation frame, at most five a second). */
  onTaskUpdates(l: (tasks: TaskSummary[]) => void): Unsubscribe {
    return this.taskFeed.listen(l);
  }

  /** Every heartbeat and change of every node, in batches (at most two a second). */
  onNodeUpdates(l: (nodes: ProcessingNode[]) => void): Unsubscribe {
    return this.nodeFeed.listen(l);
  }

  /** Every new version of the configuration. */
  onConfigUpdates(l: (configs: DistributedProcessingConfig[]) => void): Unsubscribe {
    return this.configFeed.listen(l);
  }

  /** Every alert that fires or resolves, in batches (one per animation frame). */
  onAlertUpdates(l: (alerts: Alert[]) => void): Unsubscribe {
    return this.alertFeed.listen(l);
  }

  /**
   * Every change of every schedule (created, updated, paused, resumed,
   * fired; a deleted one once more with its last state), in batches. Opened
   * only while a view listens: when the feed had to be opened again (events
   * were missed), onRestart is called, for that view to load the schedules
   * again.
   */
  watchSchedules(l: (schedules: Schedule[]) => void, onRestart: () => void): Unsubscribe {
    const feed = new Feed<Schedule>(
      (item, end) => this.openSubscription(ops.SCHEDULE_UPDATED, {}, 'scheduleUpdated', item, end),
      onRestart,
    );
    return feed.listen(l);
  }

  /** Every change of one task, with its input and result, in batches. */
  watchTask(id: string, l: (task: TaskDetail) => void): Unsubscribe {
    const feed = new Feed<TaskDetail>(
      (item, end) => this.openSubscription(ops.ONE_TASK_UPDATED, { id }, 'taskUpdated', item, end),
      () => this.emitResync(),
    );
    return feed.listen((items) => l(items[items.length - 1]));
  }
}

/** Drops empty filter fields: an empty string or list would filter for nothing. */
export function cleanFilter(f: TaskFilter): TaskFilter | null {
  const out: TaskFilter = {};
  if (f.status && f.status.length > 0) out.status = f.status;
  if (f.type) out.type = f.type;
  if (f.priority) out.priority = f.priority;
  if (f.nodeId) out.nodeId = f.nodeId;
  if (f.schedule) out.schedule = f.schedule;
  if (f.workflowId) out.workflowId = f.workflowId;
  if (f.group) out.group = f.group;
  if (f.search && f.search.trim()) out.search = f.search.trim();
  if (f.ids && f.ids.length > 0) out.ids = f.ids;
  return Object.keys(out).length > 0 ? out : null;
}

/** Drops empty workflow filter fields. */
export function cleanWorkflowFilter(f: WorkflowFilter): WorkflowFilter | null {
  const out: WorkflowFilter = {};
  if (f.status && f.status.length > 0) out.status = f.status;
  if (f.search && f.search.trim()) out.search = f.search.trim();
  return Object.keys(out).length > 0 ? out : null;
}
