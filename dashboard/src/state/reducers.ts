// Pure functions over the dashboard's state: how live events change counts,
// charts, pages of tasks and node statuses. Kept free of React and of the
// network so that unit tests cover them.

import type {
  Alert,
  DistributedProcessingConfig,
  NodeStatus,
  ProcessingNode,
  Schedule,
  TaskFilter,
  TaskPage,
  TaskStatus,
  TaskSummary,
  Workflow,
} from '../service/types';
import { TASK_STATUSES } from '../service/types';

export type Counts = Record<TaskStatus, number>;

export function emptyCounts(): Counts {
  return Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Counts;
}

export function countsFrom(list: { status: TaskStatus; count: number }[]): Counts {
  const c = emptyCounts();
  for (const { status, count } of list) c[status] = count;
  return c;
}

/** Whether this event is a task's first: just submitted (to run now, or later), never changed. */
export function isSubmission(t: TaskSummary): boolean {
  return (t.status === 'PENDING' || t.status === 'SCHEDULED' || t.status === 'WAITING') && t.attempts === 0 && t.createdAt === t.updatedAt;
}

/**
 * Slack added to the offline limit: heartbeats reach the views in batches
 * (up to half a second apart), and a late batch must not make a node flicker
 * OFFLINE.
 */
export const OFFLINE_SLACK_MS = 1000;

/**
 * A node's status as the dashboard should show it: OFFLINE when its last
 * heartbeat is older than missedHeartbeats intervals (plus OFFLINE_SLACK_MS),
 * since no event tells that a node stopped. serverNow is the server's clock
 * as the client estimates it.
 */
/** How long without a heartbeat before a node counts as offline, in ms. */
export function offlineAfterMs(config: Pick<DistributedProcessingConfig, 'heartbeatIntervalMs' | 'missedHeartbeats'> | null): number {
  return (config?.missedHeartbeats ?? 3) * (config?.heartbeatIntervalMs ?? 1000) + OFFLINE_SLACK_MS;
}

export function effectiveNodeStatus(
  node: Pick<ProcessingNode, 'status' | 'lastHeartbeat'>,
  serverNow: number,
  config: Pick<DistributedProcessingConfig, 'heartbeatIntervalMs' | 'missedHeartbeats'> | null,
): NodeStatus {
  if (node.status === 'OFFLINE') return 'OFFLINE';
  const interval = config?.heartbeatIntervalMs ?? 1000;
  const missed = config?.missedHeartbeats ?? 3;
  const last = Date.parse(node.lastHeartbeat);
  if (Number.isFinite(last) && serverNow - last > missed * interval + OFFLINE_SLACK_MS) return 'OFFLINE';
  return node.status;
}

/**
 * Estimates how far the server's clock is behind the browser's (plus the
 * event's delivery time) from heartbeats: the smallest recent difference
 * between when a heartbeat arrived and when the server stamped it.
 */
export class ClockOffset {
  private samples: number[] = [];

  constructor(private readonly keep = 30) {}

  add(receivedAt: number, stampedAt: string): void {
    const t = Date.parse(stampedAt);
    if (!Number.isFinite(t)) return;
    this.samples.push(receivedAt - t);
    if (this.samples.length > this.keep) this.samples.shift();
  }

  reset(): void {
    this.samples = [];
  }

  /** ms to subtract from the browser's clock to get the server's; 0 before any sample. */
  get value(): number {
    return this.samples.length === 0 ? 0 : Math.min(...this.samples);
  }
}

// ---- task lists ----

/** Whether a task matches a filter, as the server's tasks query applies it. */
export function taskMatchesFilter(t: TaskSummary, f: TaskFilter): boolean {
  if (f.status && f.status.length > 0 && !f.status.includes(t.status)) return false;
  if (f.type && t.type !== f.type) return false;
  if (f.priority && t.priority !== f.priority) return false;
  if (f.nodeId && t.nodeId !== f.nodeId) return false;
  if (f.schedule && t.schedule !== f.schedule) return false;
  if (f.workflowId && t.workflowId !== f.workflowId) return false;
  if (f.group && t.group !== f.group) return false;
  const q = f.search?.toLowerCase(); // as the server: untrimmed (TaskFilter.Matches)
  if (q) {
    const hay = [t.id, t.type, t.error ?? ''].map((s) => s.toLowerCase());
    if (!hay.some((s) => s.includes(q))) return false;
  }
  return true;
}

/** Newest first: by creation time, then by id. */
export function compareNewestFirst(a: TaskSummary, b: TaskSummary): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export interface LivePage extends TaskPage {
  /** Ids inserted by the last merge, to highlight. */
  fresh: ReadonlySet<string>;
  /** Ids on the page that no longer match the filter. */
  stale: ReadonlySet<string>;
}

/**
 * Orders two RFC 3339 times as the server writes them (UTC, a fraction of
 * up to nine digits with its trailing zeros dropped): a string comparison
 * would put 12:00:00Z after 12:00:00.5Z.
 */
export function compareTimes(a: string, b: string): number {
  const norm = (t: string) => {
    const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$/.exec(t);
    return m ? `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}${m[3]}` : t;
  };
  const x = norm(a);
  const y = norm(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The events of a page that was being loaded while they came (buffered):
 * the loaded page may hold some of them already, or a newer state of their
 * task; the others are merged into it, so that a change made while the
 * page loaded is not lost (a task that turned FAILED after the read but
 * before the answer).
 */
export function eventsNewerThan(page: LivePage, buffered: TaskSummary[]): TaskSummary[] {
  const loaded = new Map(page.tasks.map((t) => [t.id, t.updatedAt]));
  return buffered.filter((e) => {
    const at = loaded.get(e.id);
    return at === undefined || compareTimes(e.updatedAt, at) > 0;
  });
}

/**
 * Applies a batch of task events to the page on screen. Tasks on the page
 * are updated in place (one that stopped matching the filter stays, marked
 * stale, so rows do not jump under the pointer). On the first page, new
 * submissions that match go to the top (the API lists newest first), and a
 * task that comes to match by a change (a status, node or error filter) is
 * inserted at its place by creation time when that place is on this page;
 * the page is then trimmed back to pageSize. The server's order of rows is
 * kept: it orders by submission, which creation times cannot always tell.
 */
export function mergeTaskEvents(
  page: LivePage,
  events: TaskSummary[],
  filter: TaskFilter,
  firstPage: boolean,
  pageSize: number,
): LivePage {
  if (events.length === 0) return page;
  // Only the last state of each task matters to the page; the first event
  // seen tells whether the task was submitted in this batch.
  const latest = new Map<string, TaskSummary>();
  const submitted = new Set<string>();
  for (const e of events) {
    if (!latest.has(e.id) && isSubmission(e)) submitted.add(e.id);
    latest.set(e.id, e);
  }
  const canEnter = Boolean((filter.status && filter.status.length > 0) || filter.nodeId || filter.search?.trim());
  // (A task's schedule and workflow never change: their filters let no task in by a change.)

  const index = new Map(page.tasks.map((t, i) => [t.id, i]));
  let tasks = page.tasks;
  let changed = false;
  let stale: Set<string> | null = null;
  const top: TaskSummary[] = [];
  const middle: TaskSummary[] = [];
  let totalCount = page.totalCount;

  for (const t of latest.values()) {
    const i = index.get(t.id);
    const matches = taskMatchesFilter(t, filter);
    if (i !== undefined) {
      if (!changed) {
        tasks = [...tasks];
        changed = true;
      }
      tasks[i] = t;
      const wasStale = stale ? stale.has(t.id) : page.stale.has(t.id);
      if (matches === wasStale) {
        stale ??= new Set(page.stale);
        if (matches) {
          stale.delete(t.id);
          totalCount++;
        } else {
          stale.add(t.id);
          totalCount = Math.max(0, totalCount - 1);
        }
      }
      continue;
    }
    if (!firstPage || !matches) continue;
    if (submitted.has(t.id)) {
      top.unshift(t); // later submissions are newer
      totalCount++;
    } else if (canEnter) {
      const oldest = tasks.length > 0 ? tasks[tasks.length - 1] : null;
      const room = tasks.length < pageSize && !page.hasNextPage;
      // Within the page's range and not on it: it did not match before.
      // (One that belongs to a later page may have matched already, so the
      // total is left alone.)
      if (room || (oldest && t.createdAt > oldest.createdAt)) {
        middle.push(t);
        totalCount++;
      }
    }
  }

  if (top.length === 0 && middle.length === 0 && !changed && !stale) return page;
  if (top.length > 0 || middle.length > 0) {
    tasks = [...top, ...tasks];
    for (const t of middle.sort(compareNewestFirst)) {
      const at = tasks.findIndex((r) => !submitted.has(r.id) && r.createdAt < t.createdAt);
      if (at < 0) tasks.push(t);
      else tasks.splice(at, 0, t);
    }
  }
  let hasNextPage = page.hasNextPage;
  let endCursor = page.endCursor;
  if (tasks.length > pageSize) {
    tasks = tasks.slice(0, pageSize);
    hasNextPage = true;
    // The next page starts after the last row whose cursor is known: rows
    // inserted live have none, so the next page may repeat a few rows, but
    // it skips none.
    endCursor = null;
    for (let i = tasks.length - 1; i >= 0 && endCursor === null; i--) endCursor = page.cursors[tasks[i].id] ?? null;
  }
  return {
    tasks,
    cursors: page.cursors,
    hasNextPage,
    endCursor,
    totalCount,
    fresh: new Set([...top, ...middle].map((t) => t.id)),
    stale: stale ?? page.stale,
  };
}

// ---- node samples ----

export interface NodeHistory {
  cpu: number[];
  memory: number[];
  load: number[];
  /** The sampledAt of the last sample, to skip repeats. */
  lastSample: string | null;
}

export const HISTORY_LENGTH = 60;

/** Appends the node's health sample to its history when it is a new one. */
export function pushHealthSample(h: NodeHistory | undefined, node: ProcessingNode, max = HISTORY_LENGTH): NodeHistory {
  const stamp = node.health.sampledAt ?? node.lastHeartbeat;
  if (h && h.lastSample === stamp) return h;
  const push = (xs: number[] | undefined, v: number) => {
    const out = xs ? xs.slice(Math.max(0, xs.length + 1 - max)) : [];
    out.push(v);
    return out;
  };
  return {
    cpu: push(h?.cpu, node.health.cpuPercent),
    memory: push(h?.memory, node.health.memoryPercent),
    load: push(h?.load, node.health.load1),
    lastSample: stamp,
  };
}

// ---- alerts ----

/** How many resolved alerts the dashboard keeps (the API keeps 50). */
export const MAX_RESOLVED_ALERTS = 50;

/**
 * One firing of an alert: its id (rule and subject) and when it started. An
 * alert that resolved and fired again is two occurrences with the same id.
 */
export function alertKey(a: Pick<Alert, 'id' | 'startedAt'>): string {
  return `${a.id}@${a.startedAt}`;
}

const SEVERITY_RANK: Record<string, number> = { critical: 0, warning: 1 };

export function severityRank(severity: string): number {
  return SEVERITY_RANK[severity] ?? 2;
}

/**
 * Firing alerts first (critical before warning, then the newest first), then
 * the resolved ones, the latest resolved first.
 */
export function compareAlerts(a: Alert, b: Alert): number {
  const fa = a.status === 'FIRING';
  const fb = b.status === 'FIRING';
  if (fa !== fb) return fa ? -1 : 1;
  if (fa) {
    const r = severityRank(a.severity) - severityRank(b.severity);
    if (r !== 0) return r;
  }
  const ta = Date.parse((fa ? a.startedAt : a.resolvedAt) ?? a.startedAt);
  const tb = Date.parse((fb ? b.startedAt : b.resolvedAt) ?? b.startedAt);
  if (ta !== tb) return tb - ta;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Applies alert events (or a snapshot's alerts) to a list: each occurrence
 * takes its latest state, except that a resolution is final (a FIRING event
 * that arrives after its RESOLVED one, across a resynchronisation, is
 * stale). Returns the list sorted (compareAlerts), with at most
 * MAX_RESOLVED_ALERTS resolved ones.
 */
export function applyAlertEvents(list: Alert[], events: Alert[]): Alert[] {
  if (events.length === 0) return list;
  const byKey = new Map(list.map((a) => [alertKey(a), a]));
  for (const e of events) {
    const k = alertKey(e);
    const cur = byKey.get(k);
    if (cur && cur.status === 'RESOLVED' && e.status === 'FIRING') continue;
    byKey.set(k, e);
  }
  const out = [...byKey.values()].sort(compareAlerts);
  let resolved = 0;
  return out.filter((a) => a.status === 'FIRING' || ++resolved <= MAX_RESOLVED_ALERTS);
}

/** The firing alerts' count, and how many of them are critical. */
export function firingSummary(list: Alert[]): { firing: number; critical: number } {
  let firing = 0;
  let critical = 0;
  for (const a of list) {
    if (a.status !== 'FIRING') continue;
    firing++;
    if (a.severity === 'critical') critical++;
  }
  return { firing, critical };
}

// ---- schedules ----

/** By name, as the schedules query sorts them. */
export function compareSchedules(a: Pick<Schedule, 'name'>, b: Pick<Schedule, 'name'>): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Applies scheduleUpdated events to the list shown: a schedule takes the
 * state of its latest event (one older than what is shown is stale); an
 * unknown one is added (created elsewhere). A deleted schedule comes once
 * more with its last state, which looks like no change: for an event no
 * newer than what is shown, its name is returned in recheck, for the caller
 * to ask the node whether the schedule still exists. gone says which
 * schedules the page itself deleted (that echo of theirs is dropped).
 */
export function applyScheduleEvents(
  list: Schedule[],
  events: Schedule[],
  gone: (s: Schedule) => boolean = () => false,
): { list: Schedule[]; recheck: string[] } {
  if (events.length === 0) return { list, recheck: [] };
  const byName = new Map(list.map((s) => [s.name, s]));
  const recheck = new Set<string>();
  let changed = false;
  for (const e of events) {
    if (gone(e)) continue;
    const cur = byName.get(e.name);
    if (cur) {
      const d = (Date.parse(e.updatedAt) || 0) - (Date.parse(cur.updatedAt) || 0);
      if (d < 0) continue;
      if (d === 0) {
        recheck.add(e.name);
        continue;
      }
    }
    recheck.delete(e.name);
    byName.set(e.name, e);
    changed = true;
  }
  return { list: changed ? [...byName.values()].sort(compareSchedules) : list, recheck: [...recheck] };
}

// ---- workflows ----

/**
 * Applies task events to a workflow's steps: a step whose task is in the
 * batch takes the task's state, unless the one shown is newer (a query's
 * answer that went past the event). Returns the same workflow when nothing
 * changed, so that the graph does not render again.
 */
export function applyStepTasks(w: Workflow, tasks: readonly TaskSummary[]): Workflow {
  const byId = new Map<string, TaskSummary>();
  for (const t of tasks) byId.set(t.id, t);
  let changed = false;
  const steps = w.steps.map((s) => {
    const t = s.task ? byId.get(s.task.id) : undefined;
    if (!s.task || !t || t === s.task || Date.parse(t.updatedAt) < Date.parse(s.task.updatedAt)) return s;
    changed = true;
    return { ...s, task: t };
  });
  return changed ? { ...w, steps } : w;
}
