import { describe, expect, it } from 'vitest';

import type { Limit } from '../service/types';
import { boundsText, checkLimitForm, defaultBurst, emptyLimitForm, heldByText, limitFormFrom, limitId, scopeText, slotUse } from './limitForm';

const limit: Limit = {
  id: 'type=image.thumbnail,group=*',
  taskType: 'image.thumbnail',
  group: '*',
  maxConcurrent: 2,
  ratePerSecond: 1.5,
  burst: 3,
  running: 5,
  held: 7,
  groups: [{ group: 'crimson', running: 2, held: 7 }],
  createdAt: '2026-12-07T06:00:00Z',
  updatedAt: '2026-12-07T06:00:00Z',
};

describe('checkLimitForm', () => {
  it('builds the input of each scope', () => {
    const f = { ...emptyLimitForm(), taskType: ' sleep ', maxConcurrent: '2' };
    expect(checkLimitForm(f)).toEqual({ input: { taskType: 'sleep', maxConcurrent: 2 }, errors: {}, id: 'type=sleep' });
    expect(checkLimitForm({ ...f, groupMode: 'each' }).input).toEqual({ taskType: 'sleep', group: '*', maxConcurrent: 2 });
    expect(checkLimitForm({ ...f, groupMode: 'each' }).id).toBe('type=sleep,group=*');
    const g = checkLimitForm({ ...emptyLimitForm(), groupMode: 'one', group: 'campaign-7', rate: '0.5', burst: '4' });
    expect(g).toEqual({ input: { group: 'campaign-7', ratePerSecond: 0.5, burst: 4 }, errors: {}, id: 'group=campaign-7' });
  });

  it('needs a scope and a bound', () => {
    const r = checkLimitForm(emptyLimitForm());
    expect(r.input).toBeNull();
    expect(r.errors.scope).toMatch(/task type, a group, or both/);
    expect(r.errors.bounds).toMatch(/max concurrent, a rate, or both/);
    expect(r.id).toBe('');
    expect(checkLimitForm({ ...emptyLimitForm(), groupMode: 'one', maxConcurrent: '1' }).errors.group).toMatch(/Name the group/);
    expect(checkLimitForm({ ...emptyLimitForm(), groupMode: 'one', group: '*', maxConcurrent: '1' }).errors.group).toMatch(/each group/);
    expect(checkLimitForm({ ...emptyLimitForm(), groupMode: 'one', group: ' a', maxConcurrent: '1' }).errors.group).toMatch(/spaces/);
  });

  it('names the field of a bad bound', () => {
    const base = { ...emptyLimitForm(), taskType: 'sleep' };
    expect(checkLimitForm({ ...base, maxConcurrent: '0' }).errors.maxConcurrent).toMatch(/between 1 and 1,000,000/);
    expect(checkLimitForm({ ...base, maxConcurrent: '2.5' }).errors.maxConcurrent).toMatch(/whole number/);
    expect(checkLimitForm({ ...base, maxConcurrent: '1000001' }).errors.maxConcurrent).toMatch(/between 1/);
    expect(checkLimitForm({ ...base, rate: 'fast' }).errors.rate).toMatch(/must be a number/);
    expect(checkLimitForm({ ...base, rate: '0' }).errors.rate).toMatch(/above 0/);
    expect(checkLimitForm({ ...base, rate: '-2' }).errors.rate).toMatch(/must be a number/);
    expect(checkLimitForm({ ...base, maxConcurrent: '2', burst: '3' }).errors.burst).toMatch(/needs a rate/);
    expect(checkLimitForm({ ...base, rate: '2', burst: '0' }).errors.burst).toMatch(/between 1/);
    // A bad bound is not also reported as a missing one.
    expect(checkLimitForm({ ...base, rate: 'x' }).errors.bounds).toBeUndefined();
  });

  it('keeps the id of a complete scope while a bound is wrong', () => {
    expect(checkLimitForm({ ...emptyLimitForm(), taskType: 'sleep', maxConcurrent: '0' }).id).toBe('type=sleep');
  });
});

describe('limitFormFrom', () => {
  it('gives back the limit it came from', () => {
    const f = limitFormFrom(limit);
    expect(f).toEqual({ taskType: 'image.thumbnail', groupMode: 'each', group: '', maxConcurrent: '2', rate: '1.5', burst: '3' });
    expect(checkLimitForm(f).input).toEqual({ taskType: 'image.thumbnail', group: '*', maxConcurrent: 2, ratePerSecond: 1.5, burst: 3 });
    expect(checkLimitForm(f).id).toBe(limit.id);
    const one = limitFormFrom({ ...limit, taskType: null, group: 'crimson', maxConcurrent: null, ratePerSecond: null, burst: null });
    expect(one).toEqual({ taskType: '', groupMode: 'one', group: 'crimson', maxConcurrent: '', rate: '', burst: '' });
    expect(limitFormFrom({ ...limit, group: null }).groupMode).toBe('all');
  });
});

describe('words', () => {
  it('says the scope, the bounds and the hold', () => {
    expect(limitId('sleep', '*')).toBe('type=sleep,group=*');
    expect(limitId('', 'a')).toBe('group=a');
    expect(scopeText(limit)).toBe('image.thumbnail tasks, each group separately');
    expect(scopeText({ taskType: 'sleep', group: null })).toBe('sleep tasks, all groups together');
    expect(scopeText({ taskType: null, group: 'crimson' })).toBe('All tasks of group crimson');
    expect(boundsText(limit)).toBe('2 at once · 1.5/s (burst 3)');
    expect(boundsText({ maxConcurrent: null, ratePerSecond: 5, burst: 5 })).toBe('5/s (burst 5)');
    expect(defaultBurst(0.5)).toBe(1);
    expect(defaultBurst(2.5)).toBe(3);
    expect(heldByText('paused')).toBe('its type is paused');
    expect(heldByText('limit type=sleep')).toBe('limit type=sleep holds it back');
  });

  it('measures how full a limit is', () => {
    expect(slotUse(1, 4)).toEqual({ fraction: 0.25, tone: 'ok' });
    expect(slotUse(4, 5)).toEqual({ fraction: 0.8, tone: 'warn' });
    expect(slotUse(5, 2)).toEqual({ fraction: 1, tone: 'bad' });
    expect(slotUse(3, null)).toEqual({ fraction: 0, tone: 'muted' });
  });
});
