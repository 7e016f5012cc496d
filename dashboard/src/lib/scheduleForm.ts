// The schedule form (createSchedule, updateSchedule): its fields as typed,
// checked and turned into a ScheduleInput; a schedule turned back into the
// form's fields for editing; and how a schedule's cadence reads.

import type {
  JSONValue,
  MisfirePolicy,
  OverlapPolicy,
  Schedule,
  ScheduleInput,
  ScheduleTask,
  SubmitTaskInput,
  TaskPriority,
} from '../service/types';
import { checkJSON, prettyJSON } from './json';

/** What the form's fields hold, as typed. */
export interface ScheduleFormFields {
  name: string;
  /** Whether the schedule ticks by a cron expression or every interval. */
  mode: 'cron' | 'every';
  cron: string;
  timezone: string;
  every: string;
  type: string;
  /** JSON text; empty: no input. */
  input: string;
  priority: TaskPriority;
  /** Seconds as typed; empty: the cluster's default. */
  timeout: string;
  /** A whole number as typed; empty: the cluster's default. */
  retries: string;
  overlap: OverlapPolicy;
  misfire: MisfirePolicy;
  /** Create it paused (ignored when editing). */
  paused: boolean;
}

export type ScheduleFormErrors = Partial<Record<'name' | 'cron' | 'timezone' | 'every' | 'type' | 'input' | 'timeout' | 'retries', string>>;

/** Short explanations of the policies, shown by their selects. */
export const OVERLAP_HELP: Record<OverlapPolicy, string> = {
  ALLOW: 'Submit anyway: runs may overlap.',
  SKIP: 'Skip the tick while the previous task is unfinished.',
  CANCEL_PREVIOUS: 'Cancel the unfinished previous task, then submit.',
};

export const MISFIRE_HELP: Record<MisfirePolicy, string> = {
  RUN_ONCE: 'Ticks missed while no leader ran: one task for all of them.',
  SKIP: 'Ticks missed while no leader ran: none; wait for the next.',
};

/** The browser's time zone (IANA name), the default of a new cron schedule; UTC when it cannot tell. */
export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** A new schedule's fields: every minute by cron in the browser's zone, the given task type. */
export function emptyScheduleForm(type: string, timezone: string = browserTimeZone()): ScheduleFormFields {
  return {
    name: '',
    mode: 'cron',
    cron: '*/5 * * * *',
    timezone,
    every: '1m',
    type,
    input: '',
    priority: 'NORMAL',
    timeout: '',
    retries: '',
    overlap: 'ALLOW',
    misfire: 'RUN_ONCE',
    paused: false,
  };
}

/** A schedule's definition as the form's fields, to edit it. */
export function scheduleFormFrom(s: Schedule, timezone: string = browserTimeZone()): ScheduleFormFields {
  return {
    name: s.name,
    mode: s.cron ? 'cron' : 'every',
    cron: s.cron ?? '',
    timezone: s.timezone ?? timezone,
    every: s.every ?? '',
    type: s.task.type,
    input: s.task.input === null || s.task.input === undefined ? '' : prettyJSON(s.task.input),
    priority: s.task.priority,
    timeout: s.task.timeoutSeconds ? String(s.task.timeoutSeconds) : '',
    retries: String(s.task.maxRetries),
    overlap: s.overlap,
    misfire: s.misfire,
    paused: s.paused,
  };
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A Go duration ("90s", "1h30m", "1.5h") in ms, or null when it is not one.
 * Signs are refused: an interval is positive.
 */
export function parseGoDuration(text: string): number | null {
  const s = text.trim();
  if (s === '' || s === '0') return s === '0' ? 0 : null;
  const re = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < s.length) {
    re.lastIndex = at;
    const m = re.exec(s);
    if (!m) return null;
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    at = re.lastIndex;
  }
  return total;
}

/** What is wrong with the fields, by field; empty when nothing is. The cron expression and time zone are the node's to judge. */
export function checkScheduleForm(f: ScheduleFormFields): ScheduleFormErrors {
  const e: ScheduleFormErrors = {};
  if (!NAME_RE.test(f.name)) e.name = '1 to 128 letters, digits and . _ : / -, starting with a letter or digit';
  if (f.mode === 'cron') {
    if (f.cron.trim() === '') e.cron = 'A cron expression, such as 0 3 * * * (03:00 every day)';
  } else {
    const ms = parseGoDuration(f.every);
    if (ms === null) e.every = 'An interval such as 90s, 15m or 1h30m';
    else if (ms < 1000) e.every = 'At least 1s';
  }
  if (!f.type) e.type = 'Choose a task type';
  const input = checkJSON(f.input);
  if (!input.ok) e.input = `Invalid JSON: ${input.message}`;
  const timeout = f.timeout.trim() === '' ? null : Number(f.timeout);
  if (timeout !== null && (!Number.isFinite(timeout) || timeout < 0 || timeout > 86400)) {
    e.timeout = 'A number of seconds from 0 to 86400 (0 or empty: the default)';
  }
  const retries = f.retries.trim() === '' ? null : Number(f.retries);
  if (retries !== null && (!Number.isInteger(retries) || retries < 0 || retries > 100)) e.retries = 'A whole number from 0 to 100';
  return e;
}

/**
 * The ScheduleInput of the form, or the errors by field. Editing replaces
 * the schedule's whole definition: base (the schedule's task as it is) gives
 * the task's fields the form does not show (metadata, retry backoff, unique
 * key), so that an edit keeps them.
 */
export function scheduleInputFrom(
  f: ScheduleFormFields,
  base?: ScheduleTask | null,
): { input: ScheduleInput; errors: null } | { input: null; errors: ScheduleFormErrors } {
  const errors = checkScheduleForm(f);
  if (Object.keys(errors).length > 0) return { input: null, errors };
  const task: SubmitTaskInput = { type: f.type, priority: f.priority };
  const input = checkJSON(f.input);
  if (input.ok && !input.empty) task.input = input.value;
  if (f.timeout.trim() !== '' && Number(f.timeout) > 0) task.timeoutSeconds = Number(f.timeout);
  if (f.retries.trim() !== '') task.maxRetries = Number(f.retries);
  if (base) {
    if (base.metadata !== null && base.metadata !== undefined) task.metadata = base.metadata as JSONValue;
    if (base.retryBackoffMs != null) task.retryBackoffMs = base.retryBackoffMs;
    if (base.maxBackoffMs != null) task.maxBackoffMs = base.maxBackoffMs;
    if (base.uniqueKey) {
      task.uniqueKey = base.uniqueKey;
      if (base.uniqueForSeconds > 0) task.uniqueForSeconds = base.uniqueForSeconds;
      if (base.onDuplicate === 'REPLACE') task.onDuplicate = 'REPLACE';
    }
  }
  const out: ScheduleInput = { name: f.name, task, overlap: f.overlap, misfire: f.misfire };
  if (f.mode === 'cron') {
    out.cron = f.cron.trim();
    if (f.timezone.trim() !== '') out.timezone = f.timezone.trim();
  } else {
    out.every = f.every.trim();
  }
  if (f.paused) out.paused = true;
  return { input: out, errors: null };
}

/** How often a schedule ticks: "every 2s", or "0 3 * * * · Europe/Paris". */
export function cadence(s: Pick<Schedule, 'cron' | 'every' | 'timezone'>): string {
  if (s.every) return `every ${s.every}`;
  return `${s.cron ?? '?'} · ${s.timezone || 'UTC'}`;
}

/**
 * The field an error of the node is about, from its message (the API names
 * the field: "cron: ...", "bad time zone ...", "every: ..."), to show it by
 * that field too; null when it names none.
 */
export function errorField(message: string): 'name' | 'cron' | 'timezone' | 'every' | null {
  const m = message.toLowerCase();
  if (/\bcron\b|expression/.test(m)) return 'cron';
  if (/time ?zone|location/.test(m)) return 'timezone';
  if (/\bevery\b|interval|duration/.test(m)) return 'every';
  if (/\bnamed?\b/.test(m)) return 'name';
  return null;
}
