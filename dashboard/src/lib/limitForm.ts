// The limit form (setLimit): its fields as typed, checked and turned into a
// LimitInput; a limit turned back into the form's fields to change it; and
// how a limit's scope and use read on the Limits page.

import type { Limit, LimitInput } from '../service/types';

/** Bounds the node checks too (archivist.MaxLimit*). */
export const MAX_LIMIT_CONCURRENT = 1_000_000;
export const MAX_LIMIT_RATE = 1_000_000;
export const MAX_LIMIT_BURST = 1_000_000;

/** Which groups a limit bounds: every group together, each separately ("*"), or one. */
export type GroupMode = 'all' | 'each' | 'one';

/** What the form's fields hold, as typed. */
export interface LimitFormFields {
  /** Empty: every type. */
  taskType: string;
  groupMode: GroupMode;
  /** The group, when groupMode is 'one'. */
  group: string;
  /** Whole numbers and a decimal as typed; empty: no such bound (burst: the rate rounded up). */
  maxConcurrent: string;
  rate: string;
  burst: string;
}

export type LimitFormErrors = Partial<Record<'scope' | 'group' | 'maxConcurrent' | 'rate' | 'burst' | 'bounds', string>>;

export function emptyLimitForm(): LimitFormFields {
  return { taskType: '', groupMode: 'all', group: '', maxConcurrent: '', rate: '', burst: '' };
}

/** The form's fields holding a limit, to change it. */
export function limitFormFrom(l: Limit): LimitFormFields {
  return {
    taskType: l.taskType ?? '',
    groupMode: l.group === null ? 'all' : l.group === '*' ? 'each' : 'one',
    group: l.group !== null && l.group !== '*' ? l.group : '',
    maxConcurrent: l.maxConcurrent === null ? '' : String(l.maxConcurrent),
    rate: l.ratePerSecond === null ? '' : String(l.ratePerSecond),
    burst: l.burst === null ? '' : String(l.burst),
  };
}

/** The id the node gives the limit of a scope (archivist.LimitID): setting it again replaces that limit. */
export function limitId(taskType: string, group: string): string {
  const parts: string[] = [];
  if (taskType) parts.push(`type=${taskType}`);
  if (group) parts.push(`group=${group}`);
  return parts.join(',');
}

function wholeNumber(text: string, what: string, max: number): { value?: number; error?: string } {
  const t = text.trim();
  if (t === '') return {};
  if (!/^\d+$/.test(t)) return { error: `${what} must be a whole number` };
  const n = Number(t);
  if (n < 1 || n > max) return { error: `${what} must be between 1 and ${max.toLocaleString('en-US')}` };
  return { value: n };
}

/**
 * Checks the fields and builds the input of setLimit. The node checks again
 * (and knows the task types); this catches what can be told here, with the
 * field to blame. id is the limit the input sets, '' while the scope is
 * incomplete.
 */
export function checkLimitForm(f: LimitFormFields): { input: LimitInput | null; errors: LimitFormErrors; id: string } {
  const errors: LimitFormErrors = {};
  const taskType = f.taskType.trim();
  let group = '';
  if (f.groupMode === 'each') group = '*';
  if (f.groupMode === 'one') {
    group = f.group;
    if (group.trim() === '') errors.group = 'Name the group, or pick every group';
    else if (group !== group.trim()) errors.group = 'The group must not start or end with spaces';
    else if (group === '*') errors.group = 'Pick "each group separately" for *';
    else if (group.length > 200) errors.group = 'At most 200 characters';
  }
  if (!taskType && f.groupMode === 'all') errors.scope = 'Pick a task type, a group, or both: the tasks the limit bounds';

  const max = wholeNumber(f.maxConcurrent, 'Max concurrent', MAX_LIMIT_CONCURRENT);
  if (max.error) errors.maxConcurrent = max.error;

  let rate: number | undefined;
  const rt = f.rate.trim();
  if (rt !== '') {
    const r = Number(rt);
    if (!/^\d*\.?\d+$/.test(rt) || !Number.isFinite(r)) errors.rate = 'Starts per second must be a number, such as 5 or 0.5';
    else if (r <= 0 || r > MAX_LIMIT_RATE) errors.rate = `Starts per second must be above 0 and at most ${MAX_LIMIT_RATE.toLocaleString('en-US')}`;
    else rate = r;
  }
  const burst = wholeNumber(f.burst, 'Burst', MAX_LIMIT_BURST);
  if (burst.error) errors.burst = burst.error;
  else if (burst.value !== undefined && rt === '') errors.burst = 'A burst needs a rate';

  if (f.maxConcurrent.trim() === '' && rt === '' && !errors.maxConcurrent && !errors.rate) {
    errors.bounds = 'Set max concurrent, a rate, or both';
  }

  const scopeOK = !errors.scope && !errors.group;
  const id = scopeOK ? limitId(taskType, group) : '';
  if (Object.keys(errors).length > 0) return { input: null, errors, id };
  const input: LimitInput = {};
  if (taskType) input.taskType = taskType;
  if (group) input.group = group;
  if (max.value !== undefined) input.maxConcurrent = max.value;
  if (rate !== undefined) input.ratePerSecond = rate;
  if (burst.value !== undefined) input.burst = burst.value;
  return { input, errors, id };
}

/** The default burst of a rate, as the node sets it: the rate rounded up, at least 1. */
export function defaultBurst(rate: number): number {
  return Math.max(1, Math.ceil(rate));
}

/** A limit's scope in words: "sleep tasks, each group separately". */
export function scopeText(l: Pick<Limit, 'taskType' | 'group'>): string {
  const what = l.taskType ? `${l.taskType} tasks` : 'All tasks';
  if (l.group === null) return l.taskType ? `${what}, all groups together` : what;
  if (l.group === '*') return `${what}, each group separately`;
  return `${what} of group ${l.group}`;
}

/** A limit's bounds in words: "2 at once · 5/s (burst 10)". */
export function boundsText(l: Pick<Limit, 'maxConcurrent' | 'ratePerSecond' | 'burst'>): string {
  const parts: string[] = [];
  if (l.maxConcurrent !== null) parts.push(`${l.maxConcurrent} at once`);
  if (l.ratePerSecond !== null) parts.push(`${l.ratePerSecond}/s${l.burst !== null ? ` (burst ${l.burst})` : ''}`);
  return parts.join(' · ');
}

/**
 * How full a count of slots is: the fraction of maxConcurrent in use (0
 * without one), and a tone: bad when full, warn from 80%.
 */
export function slotUse(running: number, maxConcurrent: number | null): { fraction: number; tone: 'ok' | 'warn' | 'bad' | 'muted' } {
  if (!maxConcurrent) return { fraction: 0, tone: 'muted' };
  const fraction = Math.min(1, running / maxConcurrent);
  return { fraction, tone: running >= maxConcurrent ? 'bad' : fraction >= 0.8 ? 'warn' : 'ok' };
}

/** The words of a task's heldBy: "its type is paused", "limit type=sleep is full". */
export function heldByText(heldBy: string): string {
  if (heldBy === 'paused') return 'its type is paused';
  if (heldBy.startsWith('limit ')) return `limit ${heldBy.slice('limit '.length)} holds it back`;
  return heldBy;
}
