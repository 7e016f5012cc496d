// Task groups (SubmitTaskInput.group, typically a campaign id): checking a
// group as the API does (archivist.CheckGroup), and the counts per group.

import type { TaskGroup, TaskStatus } from '../service/types';

/** The longest group name, in bytes of UTF-8 (archivist.MaxGroupBytes). */
export const MAX_GROUP_BYTES = 256;

/** The group reserved for a limit's "each group" (archivist.AnyGroup). */
export const ANY_GROUP = '*';

/**
 * What is wrong with a group as typed, as the API would say it, or null:
 * empty is no group; otherwise at most 256 bytes, not blank, not "*" and
 * no control characters.
 */
export function groupError(g: string): string | null {
  if (g === '') return null;
  if (new TextEncoder().encode(g).length > MAX_GROUP_BYTES) return `At most ${MAX_GROUP_BYTES} bytes`;
  if (g.trim() === '') return 'A group must not be blank';
  if (g === ANY_GROUP) return '"*" is reserved (a limit\'s "each group"): name the group';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(g)) return 'No control characters';
  return null;
}

/** A group's tasks in the columns of the counts table. */
export interface GroupRow {
  group: string;
  waiting: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  unfinished: number;
  total: number;
}

const WAITING: TaskStatus[] = ['SCHEDULED', 'WAITING', 'PENDING', 'RETRYING'];
const RUNNING: TaskStatus[] = ['ASSIGNED', 'IN_PROGRESS'];
const FAILED: TaskStatus[] = ['FAILED', 'TIMED_OUT'];

/** The row of a group: its counts summed into waiting, running, completed, failed (or timed out) and cancelled. */
export function groupRow(g: TaskGroup): GroupRow {
  const n = (statuses: TaskStatus[]) => g.counts.reduce((sum, c) => (statuses.includes(c.status) ? sum + c.count : sum), 0);
  return {
    group: g.group,
    waiting: n(WAITING),
    running: n(RUNNING),
    completed: n(['COMPLETED']),
    failed: n(FAILED),
    cancelled: n(['CANCELLED']),
    unfinished: g.unfinished,
    total: g.total,
  };
}
