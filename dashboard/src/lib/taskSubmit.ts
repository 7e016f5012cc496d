// The submit form's "when" and "which" fields (SubmitTaskInput.runAt,
// delaySeconds, uniqueKey, uniqueForSeconds, onDuplicate): reading what was
// typed into the fields of the API, with the API's bounds checked first.

import type { DuplicatePolicy, SubmitTaskInput } from '../service/types';
import { duration } from './format';

/** The longest delay the API takes, in seconds (366 days). */
export const MAX_DELAY_SECONDS = 31_622_400;
/** The longest a unique key may stay held after its task finished, in seconds (30 days). */
export const MAX_UNIQUE_FOR_SECONDS = 2_592_000;
/** The longest unique key, in bytes of UTF-8. */
export const MAX_UNIQUE_KEY_BYTES = 512;

/** When to run: now, in a number of seconds, or at a date and time. */
export type RunMode = 'now' | 'delay' | 'at';

export interface TimingFields {
  mode: RunMode;
  /** Seconds, as typed (mode delay). */
  delay: string;
  /** A datetime-local value, YYYY-MM-DDTHH:MM[:SS], in the browser's zone (mode at). */
  at: string;
}

export interface Checked<T> {
  /** The fields of SubmitTaskInput to send (empty when there is an error). */
  value: T;
  /** What is wrong, to show by the field; null when nothing is. */
  error: string | null;
}

/**
 * The run time of the form as SubmitTaskInput fields: none for now,
 * delaySeconds for "in N seconds", runAt (RFC 3339, UTC) for a date and
 * time read in the browser's zone. A time that has passed is sent as it is
 * (the API runs it now); one more than 366 days ahead is refused here, as the
 * API would.
 */
export function timingInput(f: TimingFields, now: number = Date.now()): Checked<Pick<SubmitTaskInput, 'runAt' | 'delaySeconds'>> {
  if (f.mode === 'delay') {
    const text = f.delay.trim();
    const n = Number(text);
    if (text === '' || !Number.isFinite(n) || n < 0 || n > MAX_DELAY_SECONDS) {
      return { value: {}, error: `A number of seconds from 0 to ${MAX_DELAY_SECONDS} (366 days)` };
    }
    return { value: { delaySeconds: n }, error: null };
  }
  if (f.mode === 'at') {
    const t = parseLocalDateTime(f.at);
    if (t === null) return { value: {}, error: 'Choose a date and time' };
    if (t - now > MAX_DELAY_SECONDS * 1000) return { value: {}, error: 'At most 366 days ahead' };
    return { value: { runAt: new Date(t).toISOString() }, error: null };
  }
  return { value: {}, error: null };
}

/** A datetime-local value (YYYY-MM-DDTHH:MM[:SS[.mmm]]) read in the browser's zone, as ms; null when it is not one. */
export function parseLocalDateTime(v: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(v.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
  const date = new Date(y, mo - 1, d, h, mi, s, ms);
  // new Date rolls over impossible dates (Feb 30): refuse them.
  if (date.getFullYear() !== y || date.getMonth() !== mo - 1 || date.getDate() !== d || date.getHours() !== h || date.getMinutes() !== mi) {
    return null;
  }
  return date.getTime();
}

/** A time as a datetime-local value (to the minute) in the browser's zone, for the field's default. */
export function localDateTimeValue(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export interface UniqueFields {
  /** The key as typed; empty: no key. */
  key: string;
  /** How long the key stays held after the task finished, in seconds, as typed; empty: only while unfinished. */
  holdSeconds: string;
  /** What a submission whose key is held does. */
  onDuplicate: DuplicatePolicy;
}

export interface UniqueChecked extends Checked<Pick<SubmitTaskInput, 'uniqueKey' | 'uniqueForSeconds' | 'onDuplicate'>> {
  /** What is wrong with the hold time, apart from the key's error. */
  holdError: string | null;
}

/**
 * The unique key of the form as SubmitTaskInput fields: nothing without a
 * key (the hold time and the policy need one, so they are then ignored);
 * with one, the key as typed (up to 512 bytes), the hold time when given
 * (0 to 30 days) and the policy.
 */
export function uniqueInput(f: UniqueFields): UniqueChecked {
  if (f.key.trim() === '') return { value: {}, error: null, holdError: null };
  const error = new TextEncoder().encode(f.key).length > MAX_UNIQUE_KEY_BYTES ? `At most ${MAX_UNIQUE_KEY_BYTES} bytes` : null;
  let holdError: string | null = null;
  const value: Pick<SubmitTaskInput, 'uniqueKey' | 'uniqueForSeconds' | 'onDuplicate'> = { uniqueKey: f.key, onDuplicate: f.onDuplicate };
  const hold = f.holdSeconds.trim();
  if (hold !== '') {
    const n = Number(hold);
    if (!Number.isFinite(n) || n < 0 || n > MAX_UNIQUE_FOR_SECONDS) {
      holdError = `A number of seconds from 0 to ${MAX_UNIQUE_FOR_SECONDS} (30 days); empty: while the task is unfinished`;
    } else {
      value.uniqueForSeconds = n;
    }
  }
  return { value: error || holdError ? {} : value, error, holdError };
}

/** How long a task's unique key is held, for its detail: "while unfinished", "while unfinished, then 1 min 00 s". */
export function holdText(uniqueForSeconds: number): string {
  return uniqueForSeconds > 0 ? `while unfinished, then ${duration(uniqueForSeconds * 1000)}` : 'while unfinished';
}

/** When a task began waiting to be placed: its submission, or for a task
 * submitted to run later its due time (runAt, which it keeps once PENDING;
 * a RETRYING task's runAt is its retry, not a due time). */
export function waitedFrom(task: { createdAt: string; runAt: string | null; status: string }): string {
  if (task.runAt && task.status !== 'RETRYING' && Date.parse(task.runAt) > Date.parse(task.createdAt)) return task.runAt;
  return task.createdAt;
}
