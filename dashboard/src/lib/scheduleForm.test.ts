import { describe, expect, it } from 'vitest';

import type { Schedule } from '../service/types';
import { cadence, checkScheduleForm, emptyScheduleForm, errorField, parseGoDuration, scheduleFormFrom, scheduleInputFrom } from './scheduleForm';

const schedule: Schedule = {
  name: 'nightly-index',
  cron: '0 3 * * *',
  every: null,
  timezone: 'Europe/Paris',
  task: {
    type: 'echo',
    input: { campaign: 'crimson' },
    priority: 'HIGH',
    timeoutSeconds: 120,
    maxRetries: 2,
    metadata: { by: 'gm' },
    retryBackoffMs: 5000,
    maxBackoffMs: null,
    uniqueKey: 'index:crimson',
    uniqueForSeconds: 60,
    onDuplicate: 'REPLACE',
  },
  overlap: 'SKIP',
  misfire: 'SKIP',
  paused: true,
  nextRunAt: null,
  lastRunAt: null,
  lastTask: null,
  createdAt: '2026-12-07T10:00:00Z',
  updatedAt: '2026-12-07T10:00:00Z',
};

describe('parseGoDuration', () => {
  it('reads Go durations', () => {
    expect(parseGoDuration('2s')).toBe(2000);
    expect(parseGoDuration('90s')).toBe(90_000);
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    expect(parseGoDuration('500ms')).toBe(500);
  });
  it('refuses the rest', () => {
    for (const bad of ['', '2', 'two seconds', '2 s', '-5s', '1d', 's']) expect(parseGoDuration(bad), bad).toBeNull();
  });
});

describe('scheduleInputFrom', () => {
  it('turns an every schedule into its input (no cron, no time zone)', () => {
    const f = { ...emptyScheduleForm('echo', 'Europe/Paris'), name: 'e2e-every', mode: 'every' as const, every: '2s', input: '{"n": 1}' };
    const r = scheduleInputFrom(f);
    expect(r.errors).toBeNull();
    expect(r.input).toEqual({
      name: 'e2e-every',
      every: '2s',
      task: { type: 'echo', priority: 'NORMAL', input: { n: 1 } },
      overlap: 'ALLOW',
      misfire: 'RUN_ONCE',
    });
  });

  it('turns a cron schedule into its input, with its zone, task fields and paused', () => {
    const f = {
      ...emptyScheduleForm('sleep', 'America/New_York'),
      name: 'nightly',
      cron: ' 0 3 * * * ',
      timeout: '30',
      retries: '0',
      priority: 'LOW' as const,
      overlap: 'CANCEL_PREVIOUS' as const,
      misfire: 'SKIP' as const,
      paused: true,
    };
    expect(scheduleInputFrom(f).input).toEqual({
      name: 'nightly',
      cron: '0 3 * * *',
      timezone: 'America/New_York',
      task: { type: 'sleep', priority: 'LOW', timeoutSeconds: 30, maxRetries: 0 },
      overlap: 'CANCEL_PREVIOUS',
      misfire: 'SKIP',
      paused: true,
    });
  });

  it('gives the errors by field and no input', () => {
    const f = { ...emptyScheduleForm(''), name: '-bad name', mode: 'every' as const, every: '500ms', input: '{', timeout: '-1', retries: '1.5' };
    const r = scheduleInputFrom(f);
    expect(r.input).toBeNull();
    expect(Object.keys(r.errors ?? {}).sort()).toEqual(['every', 'input', 'name', 'retries', 'timeout', 'type']);
    expect(r.errors?.every).toBe('At least 1s');
    expect(checkScheduleForm({ ...emptyScheduleForm('echo'), name: 'ok', cron: '  ' }).cron).toMatch(/cron expression/);
  });

  it('leaves the cron expression to the node', () => {
    expect(checkScheduleForm({ ...emptyScheduleForm('echo'), name: 'ok', cron: '61 * * * *' })).toEqual({});
  });
});

describe('scheduleFormFrom', () => {
  it('fills the form from a schedule, and an edit keeps what the form does not show', () => {
    const f = scheduleFormFrom(schedule, 'UTC');
    expect(f).toMatchObject({
      name: 'nightly-index',
      mode: 'cron',
      cron: '0 3 * * *',
      timezone: 'Europe/Paris',
      type: 'echo',
      priority: 'HIGH',
      timeout: '120',
      retries: '2',
      overlap: 'SKIP',
      misfire: 'SKIP',
    });
    expect(JSON.parse(f.input)).toEqual({ campaign: 'crimson' });
    const r = scheduleInputFrom({ ...f, cron: '0 4 * * *' }, schedule.task);
    expect(r.input?.cron).toBe('0 4 * * *');
    expect(r.input?.task).toEqual({
      type: 'echo',
      priority: 'HIGH',
      input: { campaign: 'crimson' },
      timeoutSeconds: 120,
      maxRetries: 2,
      metadata: { by: 'gm' },
      retryBackoffMs: 5000,
      uniqueKey: 'index:crimson',
      uniqueForSeconds: 60,
      onDuplicate: 'REPLACE',
    });
  });

  it('fills an every schedule with the browser\'s zone for a switch to cron', () => {
    const f = scheduleFormFrom({ ...schedule, cron: null, timezone: null, every: '90s' }, 'Asia/Tokyo');
    expect(f).toMatchObject({ mode: 'every', every: '90s', cron: '', timezone: 'Asia/Tokyo' });
  });
});

describe('cadence', () => {
  it('reads a schedule\'s ticks', () => {
    expect(cadence({ cron: null, every: '2s', timezone: null })).toBe('every 2s');
    expect(cadence(schedule)).toBe('0 3 * * * · Europe/Paris');
    expect(cadence({ cron: '@daily', every: null, timezone: null })).toBe('@daily · UTC');
  });
});

describe('errorField', () => {
  it('finds the field a message of the node is about', () => {
    expect(errorField('bad cron expression "61 * * * *": end of range (61) above maximum (59)')).toBe('cron');
    expect(errorField('unknown time zone Mars/Olympus')).toBe('timezone');
    expect(errorField('every: an interval of at least 1s')).toBe('every');
    expect(errorField('a schedule named nightly exists')).toBe('name');
    expect(errorField('the store cannot be reached')).toBeNull();
  });
});
