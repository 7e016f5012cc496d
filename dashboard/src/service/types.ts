// The shapes of the GraphQL types the dashboard reads (graph/*.graphqls).
// Times are RFC 3339 strings, as the API sends them.

import type { ConnectionState as ClientConnectionState } from '@rpg-archivist/client';

export const TASK_STATUSES = [
  'SCHEDULED',
  'WAITING',
  'PENDING',
  'ASSIGNED',
  'IN_PROGRESS',
  'RETRYING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMED_OUT',
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);
export const RETRYABLE_STATUSES: ReadonlySet<TaskStatus> = new Set(['FAILED', 'CANCELLED', 'TIMED_OUT']);

export const TASK_PRIORITIES = ['CRITICAL', 'HIGH', 'NORMAL', 'LOW'] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];

export const NODE_STATUSES = ['ONLINE', 'BUSY', 'DRAINING', 'OFFLINE'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

export const NODE_ROLES = ['MASTER', 'WORKER', 'HYBRID'] as const;
export type NodeRole = (typeof NODE_ROLES)[number];

export const DISCOVERY_METHODS = ['MANUAL', 'AUTO', 'REGISTRY'] as const;
export type DiscoveryMethod = (typeof DISCOVERY_METHODS)[number];

export const STRATEGIES = ['ROUND_ROBIN', 'LEAST_BUSY', 'CAPABILITY_BASED'] as const;
export type LoadBalancingStrategy = (typeof STRATEGIES)[number];

export const ALERT_STATUSES = ['FIRING', 'RESOLVED'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

/** The rules the leader evaluates (graph/alert.graphqls); others may come. */
export const ALERT_RULES = ['node_offline', 'failure_rate', 'pending_too_old', 'node_busy'] as const;

export type JSONValue = null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };

export interface NodeHealth {
  cpuPercent: number;
  memoryPercent: number;
  load1: number;
  load5: number;
  load15: number;
  sampledAt: string | null;
}

export interface ProcessingNode {
  id: string;
  name: string;
  address: string;
  role: NodeRole;
  status: NodeStatus;
  capabilities: string[];
  taskTypes: string[];
  workers: number;
  activeTasks: number;
  isLeader: boolean;
  /** On the peer list (if any) and proved the cluster secret (if set): only admitted nodes get tasks. */
  admitted?: boolean;
  lastHeartbeat: string;
  startedAt: string;
  version: string;
  discovery: DiscoveryMethod;
  configVersion: number;
  health: NodeHealth;
}

/** A task as the list and the live feed carry it: everything but input, result and metadata. */
export interface TaskSummary {
  id: string;
  type: string;
  status: TaskStatus;
  priority: TaskPriority;
  error: string | null;
  attempts: number;
  failures: number;
  maxRetries: number;
  timeoutSeconds: number;
  progress: number;
  progressMessage: string | null;
  nodeId: string | null;
  cancelRequested: boolean;
  createdAt: string;
  updatedAt: string;
  assignedAt: string | null;
  startedAt: string | null;
  completedAt: string | null;
  /** When a SCHEDULED task becomes PENDING (its due time), or a RETRYING one is retried. */
  runAt: string | null;
  /** The task's unique key, or null. */
  uniqueKey: string | null;
  /** The name of the schedule that submitted the task, or null. */
  schedule: string | null;
  /** The id of the workflow the task is a step of, or null. */
  workflowId: string | null;
  /** The task's step key in its workflow, or null when it is no workflow's step. */
  stepKey: string | null;
  /** Why a PENDING task is not placed: "paused" (its type is) or "limit ID" (a full limit); null: nothing holds it. */
  heldBy?: string | null;
  /** The task's group (typically a campaign id), or null (absent in older fixtures). */
  group?: string | null;
}

/** A task with everything, for its detail view. */
export interface TaskDetail extends TaskSummary {
  input: JSONValue;
  result: JSONValue;
  metadata: JSONValue;
  /** The task's own backoff after its first failure, in ms; null: the cluster's. */
  retryBackoffMs: number | null;
  /** The task's own longest backoff between retries, in ms; null: the cluster's. */
  maxBackoffMs: number | null;
  /** How long the unique key stays held after the task finished, in seconds (0: only while unfinished). */
  uniqueForSeconds: number;
  /** True on the answer to a submission whose unique key this task held: nothing new was created. */
  duplicate: boolean;
  /** The id of the trace the task belongs to (submitted with tracing on), or null; see docs/tracing.md. */
  traceId?: string | null;
  node: { id: string; name: string; address: string } | null;
  /** The workflow the task is a step of, or null. */
  workflow: { id: string; name: string; status: WorkflowStatus } | null;
}

export interface HealthThresholds {
  cpuPercent: number;
  memoryPercent: number;
  load1: number;
}

export interface DistributedProcessingConfig {
  version: number;
  enabled: boolean;
  discovery: DiscoveryMethod;
  peers: string[];
  heartbeatIntervalMs: number;
  missedHeartbeats: number;
  defaultTimeoutSeconds: number;
  defaultMaxRetries: number;
  strategy: LoadBalancingStrategy;
  faultTolerance: boolean;
  thresholds: HealthThresholds;
  workers: number;
  retentionSeconds: number;
  retryBackoffMs: number;
  maxBackoffMs: number;
  updatedAt: string | null;
}

/** NodeInput (updateNode): every field optional; absent fields keep their value. */
export interface NodeInput {
  name?: string;
  role?: NodeRole;
  workers?: number;
  /** An empty list: every type the node has a handler for. */
  capabilities?: string[];
}

/** ConfigInput: every field optional; absent fields keep their value. */
export type ConfigInput = Partial<
  Omit<DistributedProcessingConfig, 'version' | 'updatedAt' | 'thresholds'> & { thresholds: Partial<HealthThresholds> }
>;

export interface TaskFilter {
  status?: TaskStatus[];
  type?: string;
  priority?: TaskPriority;
  nodeId?: string;
  /** Tasks submitted by the schedule of this name. */
  schedule?: string;
  /** The steps of the workflow of this id. */
  workflowId?: string;
  /** The tasks of this group. */
  group?: string;
  search?: string;
  /** Only the tasks of these ids (a selection; at most 500). */
  ids?: string[];
}

export interface TaskPage {
  tasks: TaskSummary[];
  /** The cursor of each task of the page, by id. */
  cursors: Record<string, string>;
  hasNextPage: boolean;
  endCursor: string | null;
  totalCount: number;
}

export interface SubmitTaskInput {
  type: string;
  input?: JSONValue;
  priority?: TaskPriority;
  timeoutSeconds?: number;
  maxRetries?: number;
  metadata?: JSONValue;
  /** This task's own backoff after its first failure, in ms (absent: the cluster's). */
  retryBackoffMs?: number;
  /** This task's own longest backoff between retries, in ms (absent: the cluster's). */
  maxBackoffMs?: number;
  /** When to run it (RFC 3339); until then it is SCHEDULED. Not with delaySeconds. */
  runAt?: string;
  /** Run it this many seconds from now. Not with runAt. */
  delaySeconds?: number;
  /** Makes it the only task with this key while unfinished (and uniqueForSeconds after). */
  uniqueKey?: string;
  /** How long the key stays held after the task finished, in seconds. */
  uniqueForSeconds?: number;
  /** What a submission whose key is held does (RETURN_EXISTING when absent). */
  onDuplicate?: DuplicatePolicy;
  /** The group the task belongs to, typically a campaign id (absent: none). */
  group?: string;
}

/** One group's tasks counted by status (taskGroups). */
export interface TaskGroup {
  group: string;
  /** Its tasks not finished. */
  unfinished: number;
  total: number;
  /** Every status once, in lifecycle order. */
  counts: TaskCount[];
}

export const DUPLICATE_POLICIES = ['RETURN_EXISTING', 'REPLACE'] as const;
export type DuplicatePolicy = (typeof DUPLICATE_POLICIES)[number];

// ---- schedules (graph/schedule.graphqls) ----

export const OVERLAP_POLICIES = ['ALLOW', 'SKIP', 'CANCEL_PREVIOUS'] as const;
/** What a tick does while the previous tick's task is unfinished. */
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

export const MISFIRE_POLICIES = ['RUN_ONCE', 'SKIP'] as const;
/** What becomes of ticks missed while no leader ran. */
export type MisfirePolicy = (typeof MISFIRE_POLICIES)[number];

/** What a schedule submits at each tick. */
export interface ScheduleTask {
  type: string;
  input: JSONValue;
  priority: TaskPriority;
  timeoutSeconds: number;
  maxRetries: number;
  metadata: JSONValue;
  retryBackoffMs: number | null;
  maxBackoffMs: number | null;
  uniqueKey: string | null;
  uniqueForSeconds: number;
  /** What a tick does when the key is held; null without a key. */
  onDuplicate: DuplicatePolicy | null;
}

/** A task submitted at every tick of a cron expression or an interval. */
export interface Schedule {
  name: string;
  /** A cron expression, or null for an every schedule. */
  cron: string | null;
  /** A Go duration such as 90s, or null for a cron schedule. */
  every: string | null;
  /** The IANA zone of the cron expression; null for an every schedule. */
  timezone: string | null;
  task: ScheduleTask;
  overlap: OverlapPolicy;
  misfire: MisfirePolicy;
  paused: boolean;
  /** The next tick; null while paused. */
  nextRunAt: string | null;
  lastRunAt: string | null;
  /** The task of the last tick, or null. */
  lastTask: { id: string; status: TaskStatus; createdAt: string } | null;
  createdAt: string;
  updatedAt: string;
}

/** A schedule to create, or (updateSchedule) the definition that replaces one. */
export interface ScheduleInput {
  name: string;
  cron?: string;
  timezone?: string;
  every?: string;
  task: SubmitTaskInput;
  overlap?: OverlapPolicy;
  misfire?: MisfirePolicy;
  /** Create it paused (ignored by updateSchedule). */
  paused?: boolean;
}

export interface TaskCount {
  status: TaskStatus;
  count: number;
}

/**
 * A condition an alert rule found. One alert per rule and subject (its id,
 * e.g. node_offline:node-2) fires at a time; once resolved it may fire
 * again, with the same id and a new startedAt.
 */
export interface Alert {
  id: string;
  /** node_offline, failure_rate, pending_too_old or node_busy. */
  rule: string;
  /** A node id, or cluster. */
  subject: string;
  /** critical or warning. */
  severity: string;
  status: AlertStatus;
  message: string;
  /** The measured value: seconds, or a percentage for failure_rate. */
  value: number;
  startedAt: string;
  resolvedAt: string | null;
}

/** What the dashboard loads at start and at every resynchronisation. */
export interface ClusterSnapshot {
  nodes: ProcessingNode[];
  leader: { id: string } | null;
  config: DistributedProcessingConfig;
  taskTypes: string[];
  taskCounts: TaskCount[];
  /** The latest failed or timed-out tasks. */
  recentFailures: TaskSummary[];
  /** The firing alerts and the recently resolved ones. */
  alerts: Alert[];
}

export type ConnectionPhase = 'connecting' | 'online' | 'offline';

/**
 * Whether the node reaches its store, as the last queries and mutations
 * found: a request that fails with UNAVAILABLE says the store is out of
 * reach (its message names the store); any request that succeeds says it is
 * back.
 */
export interface StoreHealth {
  reachable: boolean;
  /** The node's message, naming the store, while it is out of reach. */
  message: string | null;
  /** When the dashboard first saw it out of reach (ms since the epoch). */
  since: number | null;
}

/**
 * The WebSocket's state as the header shows it: the client's
 * (@rpg-archivist/client), whose socket the dashboard keeps open, so that
 * it is never idle.
 */
export type ConnectionState = Omit<ClientConnectionState, 'phase' | 'closeCode'> & { phase: ConnectionPhase };

/** One bucket of the cluster's statistics (latencies in ms, 0 when no task ended in it). */
export interface StatsPoint {
  at: string;
  submitted: number;
  completed: number;
  failed: number;
  waitP50Ms: number;
  waitP95Ms: number;
  runP50Ms: number;
  runP95Ms: number;
}

export interface TypeStats {
  type: string;
  completed: number;
  failed: number;
  waitP95Ms: number;
  runP95Ms: number;
}

export interface GroupStats {
  group: string;
  submitted: number;
  completed: number;
  failed: number;
  waitP95Ms: number;
  runP95Ms: number;
}

export interface NodeStats {
  nodeId: string;
  completed: number;
  failed: number;
  busySeconds: number;
  workerSeconds: number;
  /** Busy worker time over worker time, 0 to 1. */
  utilization: number;
}

/** The cluster's statistics over a window, from the store's rollups (the stats query). */
export interface ClusterStats {
  windowSeconds: number;
  bucketSeconds: number;
  from: string;
  to: string;
  series: StatsPoint[];
  total: StatsPoint;
  byType: TypeStats[];
  byNode: NodeStats[];
  /** Per group, most ended first; with a group asked for, that group alone (and byType, byNode empty). */
  byGroup: GroupStats[];
}

/** What the overview polls: the chosen window, and the last minute for its tiles. */
export interface OverviewStats {
  stats: ClusterStats;
  recent: Pick<ClusterStats, 'from' | 'to' | 'total'>;
}

// ---- workflows (graph/workflow.graphqls) ----

export const WORKFLOW_STATUSES = ['RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
/** Where a workflow is. */
export type WorkflowStatus = (typeof WORKFLOW_STATUSES)[number];

export const WORKFLOW_FAILURE_POLICIES = ['FAIL_FAST', 'CONTINUE'] as const;
/** What a failed step does to the rest of its workflow. */
export type WorkflowFailurePolicy = (typeof WORKFLOW_FAILURE_POLICIES)[number];

/** A workflow as the list and workflowUpdated carry it: everything but its steps. */
export interface WorkflowSummary {
  id: string;
  name: string;
  status: WorkflowStatus;
  onFailure: WorkflowFailurePolicy;
  /** The group of its steps' tasks, or null (absent in older fixtures). */
  group?: string | null;
  /** The share of steps that ended, 0 to 1. */
  progress: number;
  stepCount: number;
  /** Why it FAILED, or that it was CANCELLED; null otherwise. */
  error: string | null;
  metadata: JSONValue;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

/**
 * One step of a workflow: its key, what it waits for, the step that added it
 * while it ran (null for a submitted step), and its task (null once removed
 * by retention).
 */
export interface WorkflowStep {
  key: string;
  dependsOn: string[];
  addedBy: string | null;
  task: TaskSummary | null;
}

/** A workflow with its steps, for its graph. */
export interface Workflow extends WorkflowSummary {
  steps: WorkflowStep[];
}

export interface WorkflowFilter {
  status?: WorkflowStatus[];
  search?: string;
}

export interface WorkflowPage {
  workflows: WorkflowSummary[];
  hasNextPage: boolean;
  endCursor: string | null;
  totalCount: number;
}

/** A step to submit: a key, its dependencies, and its task as submitTask takes it. */
export interface WorkflowStepInput {
  key: string;
  dependsOn?: string[];
  type: string;
  input?: JSONValue;
  priority?: TaskPriority;
  timeoutSeconds?: number;
  maxRetries?: number;
  metadata?: JSONValue;
  retryBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface WorkflowInput {
  name: string;
  metadata?: JSONValue;
  onFailure?: WorkflowFailurePolicy;
  /** The group of every step's task (absent: none). */
  group?: string;
  steps: WorkflowStepInput[];
}

/** One group's use of a limit whose group is "*". */
export interface LimitGroupUse {
  group: string;
  running: number;
  held: number;
}

/** A limit on the tasks of a scope (a type, a group, or both) and its use now. */
export interface Limit {
  /** The scope in words: type=T, group=G or type=T,group=G. */
  id: string;
  /** null: every type. */
  taskType: string | null;
  /** null: every group together; "*": each group separately. */
  group: string | null;
  /** null: no bound on tasks running at once. */
  maxConcurrent: number | null;
  /** null: no bound on starts per second. */
  ratePerSecond: number | null;
  burst: number | null;
  /** Slots in use now (all groups together for "*"). */
  running: number;
  /** PENDING tasks it holds back now. */
  held: number;
  /** For "*": each group with tasks running or held, busiest first. */
  groups: LimitGroupUse[];
  createdAt: string;
  updatedAt: string;
}

/** What setLimit takes. */
export interface LimitInput {
  taskType?: string;
  group?: string;
  maxConcurrent?: number;
  ratePerSecond?: number;
  burst?: number;
}

/** A task type and whether it is paused. */
export interface TaskTypeState {
  type: string;
  paused: boolean;
}
