// A task's own retry backoff (SubmitTaskInput.retryBackoffMs, maxBackoffMs):
// reading the submit form's fields and showing it in the task's detail.

import { duration } from './format';

/** The longest backoff a task may ask for, in ms (archivist.MaxTaskBackoff: a day). */
export const MAX_TASK_BACKOFF_MS = 86_400_000;

/**
 * Reads a backoff field: empty is the cluster's (ms null); otherwise a whole
 * number of milliseconds from 1 to a day, or the error to show.
 */
export function checkBackoffMs(text: string): { ms: number | null; error: string | null } {
  if (text.trim() === '') return { ms: null, error: null };
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > MAX_TASK_BACKOFF_MS) {
    return { ms: null, error: `A whole number of milliseconds from 1 to ${MAX_TASK_BACKOFF_MS} (empty: the cluster's)` };
  }
  return { ms: n, error: null };
}

/**
 * The task's backoff as "2.00 s, at most 1 min 00 s"; a part the task left
 * to the cluster reads "cluster's" (the cluster's value may change before a
 * retry, so it is not copied here).
 */
export function backoffText(retryBackoffMs: number | null | undefined, maxBackoffMs: number | null | undefined): string {
  if (retryBackoffMs == null && maxBackoffMs == null) return "the cluster's";
  const first = retryBackoffMs == null ? "cluster's" : duration(retryBackoffMs);
  const most = maxBackoffMs == null ? "cluster's" : duration(maxBackoffMs);
  return `${first}, at most ${most}`;
}
