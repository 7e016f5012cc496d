// Tasks: submit, read, list, control, watch and wait.

import type { ArchivistClient, Unsubscribe } from './client.js';
import { ArchivistError, TaskFailedError } from './errors.js';
import {
  CancelTaskDocument,
  CancelTasksDocument,
  DeleteTasksDocument,
  RetryTaskDocument,
  RetryTasksDocument,
  SubmitTaskDocument,
  SubmitTasksDocument,
  TaskCountsDocument,
  TaskDocument,
  TaskTypesDocument,
  TaskStateDocument,
  TaskUpdatedDocument,
  TasksDocument,
  type SubmitTaskInput,
  type TaskCountsQuery,
  type TaskFieldsFragment,
  type TaskFilter,
  type TaskStatus,
} from './generated/graphql.js';
import { watch, type WatchHandlers } from './watch.js';

/** A task, with every field the client reads. */
export type Task = TaskFieldsFragment;

/** One page of a listing, and where the next one starts. */
export interface Page<T> {
  items: T[];
  /** How many match the filter, in all. */
  totalCount: number;
  hasNextPage: boolean;
  /** Pass as after to get the next page. */
  endCursor: string | null;
}

/** Options of a listing. */
export interface ListOptions<F> {
  filter?: F | null;
  /** Page size (the API's default 50, at most 500). */
  first?: number;
  /** The endCursor of the page before. */
  after?: string | null;
}

/** The statuses after which a task changes no more (unless retried). */
export const FINISHED_STATUSES: readonly TaskStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

/** Whether a task is finished: COMPLETED, FAILED, CANCELLED or TIMED_OUT. */
export function isFinished(task: Pick<Task, 'status'>): boolean {
  return FINISHED_STATUSES.includes(task.status);
}

/** Queues one task (BAD_USER_INPUT for an unknown type or a bad field). */
export async function submitTask(client: ArchivistClient, input: SubmitTaskInput): Promise<Task> {
  return (await client.request(SubmitTaskDocument, { input })).submitTask;
}

/** Queues up to 1,000 tasks at once: all, or none when any is invalid. */
export async function submitTasks(client: ArchivistClient, inputs: SubmitTaskInput[]): Promise<Task[]> {
  return (await client.request(SubmitTasksDocument, { inputs })).submitTasks;
}

/** The task, or null when there is none with that id. */
export async function getTask(client: ArchivistClient, id: string): Promise<Task | null> {
  return (await client.request(TaskDocument, { id })).task;
}

/** One page of the tasks that match the filter, newest first. */
export async function listTasks(client: ArchivistClient, options: ListOptions<TaskFilter> = {}): Promise<Page<Task>> {
  const { tasks } = await client.request(TasksDocument, {
    filter: options.filter ?? null,
    first: options.first ?? null,
    after: options.after ?? null,
  });
  return {
    items: tasks.edges.map((e) => e.node),
    totalCount: tasks.totalCount,
    hasNextPage: tasks.pageInfo.hasNextPage,
    endCursor: tasks.pageInfo.endCursor,
  };
}

/** Every task that matches the filter, page by page (pageSize each, default 100). */
export async function* iterateTasks(
  client: ArchivistClient,
  options: { filter?: TaskFilter | null; pageSize?: number } = {},
): AsyncGenerator<Task, void, undefined> {
  let after: string | null = null;
  for (;;) {
    const page: Page<Task> = await listTasks(client, { filter: options.filter, first: options.pageSize ?? 100, after });
    yield* page.items;
    if (!page.hasNextPage || !page.endCursor) return;
    after = page.endCursor;
  }
}

/** How many tasks are in each status (of one group when given). */
export async function countTasks(client: ArchivistClient, group?: string): Promise<TaskCountsQuery['taskCounts']> {
  return (await client.request(TaskCountsDocument, { group: group ?? null })).taskCounts;
}

/** The task types the cluster's nodes can run. */
export async function taskTypes(client: ArchivistClient): Promise<string[]> {
  return (await client.request(TaskTypesDocument)).taskTypes;
}

/** Cancels a task (a running one is asked to stop); CONFLICT when it is finished. */
export async function cancelTask(client: ArchivistClient, id: string): Promise<Task> {
  return (await client.request(CancelTaskDocument, { id })).cancelTask;
}

/** Runs a FAILED, TIMED_OUT or CANCELLED task again. */
export async function retryTask(client: ArchivistClient, id: string): Promise<Task> {
  return (await client.request(RetryTaskDocument, { id })).retryTask;
}

/** Cancels every unfinished task the filter matches; returns how many. */
export async function cancelTasks(client: ArchivistClient, filter: TaskFilter): Promise<number> {
  return (await client.request(CancelTasksDocument, { filter })).cancelTasks;
}

/** Retries every FAILED, TIMED_OUT or CANCELLED task the filter matches; returns how many. */
export async function retryTasks(client: ArchivistClient, filter: TaskFilter): Promise<number> {
  return (await client.request(RetryTasksDocument, { filter })).retryTasks;
}

/** Deletes every finished task the filter matches; returns how many. */
export async function deleteTasks(client: ArchivistClient, filter: TaskFilter): Promise<number> {
  return (await client.request(DeleteTasksDocument, { filter })).deleteTasks;
}

/**
 * Follows every change of the tasks the filter matches (all tasks without
 * one). After a gap (reconnection, restarted subscription) onResync is
 * called: list the tasks again.
 */
export function watchTasks(client: ArchivistClient, filter: TaskFilter | null, handlers: WatchHandlers<Task>): Unsubscribe {
  return watch(client, TaskUpdatedDocument, { filter }, (r) => r.taskUpdated, handlers);
}

/**
 * Follows one task: its state now, then each change. The node sends the
 * task as it is whenever the subscription starts, so after a gap (a
 * reconnection, a node restart) the next state handed over is the task's
 * current one. NOT_FOUND (through onError) when there is no such task.
 */
export function watchTask(client: ArchivistClient, id: string, handlers: WatchHandlers<Task>): Unsubscribe {
  return watch(client, TaskStateDocument, { id }, (r) => r.taskUpdated, handlers);
}

/** Options of waitForTask. */
export interface WaitOptions {
  /** Each state of the task while it runs (progress, progressMessage, status). */
  onProgress?: (task: Task) => void;
  /** Stops waiting (the task goes on): the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Stops waiting after this long (the task goes on): rejects with a TimeoutError DOMException. */
  timeoutMs?: number;
  /** Resolve with the task whatever its end (default false: a FAILED, TIMED_OUT or CANCELLED task rejects with TaskFailedError). */
  resolveOnFailure?: boolean;
}

/**
 * Waits for a task to finish and resolves with it (result holds the
 * handler's result). A task that ends FAILED, TIMED_OUT or CANCELLED
 * rejects with TaskFailedError, unless resolveOnFailure. It survives
 * reconnections and node restarts: the task is read again after each.
 */
export function waitForTask(client: ArchivistClient, id: string, options: WaitOptions = {}): Promise<Task> {
  return new Promise<Task>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stop: Unsubscribe = () => {};
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      stop();
      fn();
    };
    const onAbort = () => finish(() => reject(options.signal?.reason ?? new DOMException('aborted', 'AbortError')));
    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(
        () => finish(() => reject(new DOMException(`task ${id} did not finish within ${options.timeoutMs} ms`, 'TimeoutError'))),
        options.timeoutMs,
      );
    }
    stop = watchTask(client, id, {
      onUpdate: (task) => {
        if (!isFinished(task)) {
          options.onProgress?.(task);
          return;
        }
        if (task.status === 'COMPLETED' || options.resolveOnFailure) finish(() => resolve(task));
        else finish(() => reject(new TaskFailedError(task)));
      },
      onError: (err: ArchivistError) => finish(() => reject(err)),
    });
    if (settled) stop();
  });
}

/** Submits a task and waits for it (see waitForTask). */
export async function runTask(client: ArchivistClient, input: SubmitTaskInput, options: WaitOptions = {}): Promise<Task> {
  const task = await submitTask(client, input);
  if (isFinished(task)) {
    // A duplicate of a finished unique task: already there.
    if (task.status === 'COMPLETED' || options.resolveOnFailure) return task;
    throw new TaskFailedError(task);
  }
  return waitForTask(client, task.id, options);
}
