// Bulk operations on tasks (cancelTasks, retryTasks, deleteTasks): which
// tasks each acts on, the filter it is sent and counted with, and what the
// confirmation says. Pure functions: TaskList runs them.

import { TASK_STATUSES, TERMINAL_STATUSES, type TaskFilter, type TaskStatus, type TaskSummary } from '../service/types';

export type BulkOp = 'cancel' | 'retry' | 'delete';

export const BULK_OPS: readonly BulkOp[] = ['cancel', 'retry', 'delete'];

/** The dead-letter queue: the failed view of the task list. */
export const FAILED_VIEW: readonly TaskStatus[] = ['FAILED', 'TIMED_OUT'];

/** The statuses each operation acts on (graph/flow.graphqls). */
const APPLIES: Record<BulkOp, readonly TaskStatus[]> = {
  cancel: TASK_STATUSES.filter((s) => !TERMINAL_STATUSES.has(s)),
  retry: ['FAILED', 'CANCELLED', 'TIMED_OUT'],
  delete: TASK_STATUSES.filter((s) => TERMINAL_STATUSES.has(s)),
};

/**
 * The statuses of a filter (none: any) narrowed to those op acts on, in the
 * filter's order: a count of the filter with them is how many tasks op
 * would change (give or take workflow steps, which retry and delete leave
 * out). Empty: op would change none.
 */
export function bulkStatuses(op: BulkOp, statuses?: readonly TaskStatus[]): TaskStatus[] {
  if (!statuses || statuses.length === 0) return [...APPLIES[op]];
  return statuses.filter((s) => APPLIES[op].includes(s));
}

/** Whether op would change this task (as the server decides: store.go, BulkTasks). */
export function bulkApplies(op: BulkOp, t: Pick<TaskSummary, 'status' | 'cancelRequested' | 'workflowId'>): boolean {
  switch (op) {
    case 'cancel':
      return !TERMINAL_STATUSES.has(t.status) && !(t.status === 'IN_PROGRESS' && t.cancelRequested);
    case 'retry':
      return !t.workflowId && APPLIES.retry.includes(t.status);
    case 'delete':
      return !t.workflowId && TERMINAL_STATUSES.has(t.status);
  }
}

/** The filter that counts what op would change among the tasks filter matches, or null when none can be. */
export function countFilter(op: BulkOp, filter: TaskFilter): TaskFilter | null {
  const status = bulkStatuses(op, filter.status);
  return status.length > 0 ? { ...filter, status } : null;
}

/** The filter a selection is sent as: its ids (at most 500, the API's bound). */
export function selectionFilter(ids: Iterable<string>): TaskFilter {
  return { ids: [...ids].slice(0, 500) };
}

const VERB: Record<BulkOp, [string, string, string]> = {
  // imperative, past, busy
  cancel: ['Cancel', 'Cancelled', 'Cancelling…'],
  retry: ['Retry', 'Retried', 'Retrying…'],
  delete: ['Delete', 'Deleted', 'Deleting…'],
};

export function bulkVerb(op: BulkOp): string {
  return VERB[op][0];
}

export function bulkBusy(op: BulkOp): string {
  return VERB[op][2];
}

function tasks(n: number): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? 'task' : 'tasks'}`;
}

/** The question before op runs on n tasks (scope: the selection, or all the filter matches). */
export function confirmText(op: BulkOp, n: number, scope: 'selection' | 'filter'): string {
  const what = scope === 'selection' ? `${tasks(n)} of the selection` : `${tasks(n)} matching the filter`;
  const how = {
    cancel: 'Running ones are asked to stop.',
    retry: 'They go back to the queue; workflow steps are left out (retry their workflow).',
    delete: 'They are removed for good; workflow steps are left out.',
  }[op];
  return `${bulkVerb(op)} ${what}? ${how}`;
}

/** What the list says once op ran. */
export function doneText(op: BulkOp, n: number): string {
  return `${VERB[op][1]} ${tasks(n)}.`;
}

/** The statuses of ?status=FAILED or ?status=FAILED,TIMED_OUT (unknown ones dropped; none: undefined). */
export function statusesFromQuery(v: string | null): TaskStatus[] | undefined {
  const list = (v ?? '').split(',').filter((s): s is TaskStatus => (TASK_STATUSES as readonly string[]).includes(s));
  return list.length > 0 ? list : undefined;
}

/** Whether a filter is the failed view (FAILED and TIMED_OUT, nothing else). */
export function isFailedView(filter: TaskFilter): boolean {
  const s = filter.status ?? [];
  return s.length === FAILED_VIEW.length && FAILED_VIEW.every((x) => s.includes(x));
}
