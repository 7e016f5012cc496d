// DistributedProcessingService holds all of the dashboard's GraphQL access,
// through @rpg-archivist/client (clients/typescript): queries and mutations
// over HTTP, subscriptions over one WebSocket (graphql-ws, the
// graphql-transport-ws protocol), kept open. Components never talk to
// GraphQL themselves: they call this service, or read the DashboardStore that
// it feeds.
//
// The WebSocket reconnects by itself with a capped, jittered exponential
// backoff; its subscriptions are resumed on the new socket, and every
// reconnection (or restarted feed) is announced through onResync, so that
// the views refetch what they show: events sent while the socket was down
// are lost. onResync comes once the node has opened the subscriptions again
// (ArchivistClient.opened), so that nothing falls between the refetch and
// the feeds.
//
// With an API key, HTTP requests carry it as Authorization: Bearer and the
// WebSocket sends it in connection_init. A key the node refuses (a 4401
// close, an UNAUTHENTICATED error) is reported through onAuthError, a
// FORBIDDEN error through onForbidden; the service does not decide what
// follows.

import { ArchivistError, backoffDelay as clientBackoffDelay, createClient, typedDocument, type ArchivistClient } from '@rpg-archivist/client';

import { CLOSE_UNAUTHORIZED, CODE_FORBIDDEN, CODE_UNAUTHENTICATED } from '../lib/auth';
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

function toRequestError(err: unknown): GraphQLRequestError {
  if (!(err instanceof ArchivistError)) {
    return new GraphQLRequestError(`Cannot reach the node (${err instanceof Error ? err.message : String(err)})`, null, true);
  }
  if (err.code === 'NETWORK_ERROR') return new GraphQLRequestError(`Cannot reach the node (${err.message})`, null, true);
  if (err.code === CODE_UNAUTHENTICATED && err.errors.length === 0) {
    // The WebSocket was closed with 4401: the key is refused.
    return new GraphQLRequestError(`The node refused the key (${err.message})`, CODE_UNAUTHENTICATED, false);
  }
  return new GraphQLRequestError(err.message, err.code, false);
}

type AnyVariables = Record<string, unknown>;

/** Reconnection delays: the client's (0.5 s doubling), here at most 5 s, plus up to 30 % jitter. */
export function backoffDelay(attempt: number, baseMs = 500, maxMs = 5000, random = Math.random): number {
  return clientBackoffDelay(attempt, baseMs, maxMs, random);
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

  /** Hands over what is pending now, without waiting for the next batch. */
  flushNow(): void {
    const items = this.pending;
    this.pending = [];
    if (items.length > 0) this.flushFn(items);
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
    // Call onRestart at the first opening too (for a view that read its
    // state while opening the feed).
    private readonly restartAtFirst = false,
  ) {
    this.batcher = new FrameBatcher<T>((items) => {
      for (const l of this.listeners) l(items);
    }, minIntervalMs);
  }

  listen(l: (items: T[]) => void): Unsubscribe {
    this.listeners.add(l);
    if (this.listeners.size === 1) {
      this.start();
      if (this.restartAtFirst) this.onRestart();
    }
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

  /** Hands over the items received and not yet handed over. */
  flush(): void {
    this.batcher.flushNow();
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
  private readonly api: ArchivistClient;
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
    // The socket stays open (lazy: false) so that the header shows whether
    // the node is reachable; the key goes in connection_init (a browser
    // cannot set headers on a WebSocket), read again at every
    // (re)connection.
    this.api = createClient({
      url: new URL(opts.httpUrl ?? '/graphql', window.location.href).toString(),
      wsUrl: opts.wsUrl ?? defaultWsUrl(),
      apiKey: key,
      lazy: false,
      keepAliveMs: keepAlive,
      pongTimeoutMs: pongTimeout,
      reconnect: { baseMs: 500, maxMs: 5000 },
    });
    this.api.onConnectionChange((c) => {
      const phase = c.phase === 'idle' ? 'connecting' : c.phase;
      this.setState({
        phase,
        everConnected: c.everConnected,
        attempt: c.attempt,
        nextRetryAt: c.nextRetryAt,
        since: c.since,
        reason: c.reason,
      });
      // graphql-ws does not retry a 4401: the key is refused.
      if (c.phase === 'offline' && c.closeCode === CLOSE_UNAUTHORIZED) this.onAuthError(c.reason ?? 'closed (4401)');
    });
    // After a reconnection, once the node has opened the subscriptions
    // again: what the views read then, with what the feeds send, misses no
    // change.
    this.api.onReconnect(() => this.emitResync());

    // A feed opened again (the node ended it): read again once the node
    // has opened it, for the same reason.
    const resync = this.afterOpened(() => this.emitResync());
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

  /**
   * Resolves once the node has opened every subscription started so far
   * (ArchivistClient.opened): state read after it, with what the feeds
   * send, misses no change.
   */
  opened(): Promise<void> {
    return this.api.opened();
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

  /**
   * f, to be called once the node has opened every subscription started
   * so far (a feed just opened again): what f reads then, with what the
   * feeds send, misses no change.
   */
  private afterOpened(f: () => void): () => void {
    return () => {
      this.api.opened().then(
        () => {
          if (!this.disposed) f();
        },
        () => {},
      );
    };
  }

  private emitResync(): void {
    for (const l of this.resyncListeners) l();
  }

  /** Closes the WebSocket for good. */
  dispose(): void {
    this.disposed = true;
    void this.api.close();
  }

  // ---- queries ----

  /** Turns a request's error into a GraphQLRequestError, reporting the ones about the key. */
  private fail(err: unknown): GraphQLRequestError {
    const e = toRequestError(err);
    if (e.code === CODE_UNAVAILABLE) this.setStoreHealth(false, e.message);
    if (e.code === CODE_UNAUTHENTICATED) this.onAuthError(e.message);
    else if (e.code === CODE_FORBIDDEN) this.onForbidden(e.message);
    return e;
  }

  private async query<T>(doc: string, vars: AnyVariables = {}): Promise<T> {
    let data: T;
    try {
      data = await this.api.request(typedDocument<T, AnyVariables>(doc), vars);
    } catch (err) {
      throw this.fail(err);
    }
    this.setStoreHealth(true, null);
    return data;
  }

  private async mutate<T>(doc: string, vars: AnyVariables): Promise<T> {
    return this.query<T>(doc, vars);
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
      this.afterOpened(onRestart),
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
    let done = false;
    const stop = this.api.subscribe(typedDocument<Record<string, T>, AnyVariables>(doc), vars, {
      next: (data) => {
        if (done) return;
        const item = data[field];
        if (item) onItem(item);
      },
      error: (err) => {
        if (done) return;
        done = true;
        end(this.fail(err));
      },
      complete: () => {
        if (done) return;
        done = true;
        end(null);
      },
    });
    return () => {
      done = true;
      stop();
    };
  }

  /** Every change of every task, in batches (one per animation frame, at most five a second). */
  /**
   * Hands over at once the task events received and still held back by
   * the batching: a view about to read tasks takes them first, so that
   * none that happened before its read comes after it.
   */
  flushTaskUpdates(): void {
    this.taskFeed.flush();
  }

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
   * only while a view listens: once the node has opened it, and each time
   * it had to be opened again (events were missed), onRestart is called,
   * for that view to load the schedules again.
   */
  watchSchedules(l: (schedules: Schedule[]) => void, onRestart: () => void): Unsubscribe {
    const feed = new Feed<Schedule>(
      (item, end) => this.openSubscription(ops.SCHEDULE_UPDATED, {}, 'scheduleUpdated', item, end),
      this.afterOpened(onRestart),
      0,
      // The view read the schedules as it opened the feed: read once more
      // when the node has opened it, so that a change in between shows.
      true,
    );
    return feed.listen(l);
  }

  /**
   * One task, with its input and result: as it is when the feed opens
   * (again, after a restart or a reconnection), then every change, in
   * batches. Nothing to read again when it restarts.
   */
  watchTask(id: string, l: (task: TaskDetail) => void): Unsubscribe {
    const feed = new Feed<TaskDetail>(
      (item, end) => this.openSubscription(ops.ONE_TASK_UPDATED, { id }, 'taskUpdated', item, end),
      () => {},
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
