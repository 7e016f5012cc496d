import { describe, expect, it } from 'vitest';

import { holdText, localDateTimeValue, MAX_DELAY_SECONDS, parseLocalDateTime, timingInput, uniqueInput, waitedFrom } from './taskSubmit';

const NOW = new Date(2026, 11, 7, 14, 30, 0).getTime(); // local time: the form's zone

describe('timingInput', () => {
  it('sends nothing for now', () => {
    expect(timingInput({ mode: 'now', delay: '5', at: 'x' }, NOW)).toEqual({ value: {}, error: null });
  });
  it('sends delaySeconds for "in N seconds"', () => {
    expect(timingInput({ mode: 'delay', delay: ' 2 ', at: '' }, NOW)).toEqual({ value: { delaySeconds: 2 }, error: null });
    expect(timingInput({ mode: 'delay', delay: '0.5', at: '' }, NOW).value).toEqual({ delaySeconds: 0.5 });
    expect(timingInput({ mode: 'delay', delay: String(MAX_DELAY_SECONDS), at: '' }, NOW).error).toBeNull();
  });
  it('refuses a delay out of bounds or not a number', () => {
    for (const bad of ['', '-1', 'soon', String(MAX_DELAY_SECONDS + 1)]) {
      const r = timingInput({ mode: 'delay', delay: bad, at: '' }, NOW);
      expect(r.error, bad).toMatch(/number of seconds from 0/);
      expect(r.value).toEqual({});
    }
  });
  it('sends runAt in UTC for a local date and time', () => {
    const r = timingInput({ mode: 'at', delay: '', at: '2026-12-07T15:45' }, NOW);
    expect(r.error).toBeNull();
    expect(r.value).toEqual({ runAt: new Date(2026, 11, 7, 15, 45).toISOString() });
    expect(r.value.runAt).toMatch(/Z$/);
  });
  it('sends a passed time as it is (the API runs it now)', () => {
    expect(timingInput({ mode: 'at', delay: '', at: '2026-12-07T14:00' }, NOW).error).toBeNull();
  });
  it('refuses no time, an impossible one, or one more than 366 days ahead', () => {
    expect(timingInput({ mode: 'at', delay: '', at: '' }, NOW).error).toBe('Choose a date and time');
    expect(timingInput({ mode: 'at', delay: '', at: '2026-02-30T10:00' }, NOW).error).toBe('Choose a date and time');
    expect(timingInput({ mode: 'at', delay: '', at: '2028-01-01T00:00' }, NOW).error).toBe('At most 366 days ahead');
  });
});

describe('parseLocalDateTime and localDateTimeValue', () => {
  it('read and write the datetime-local format in the browser\'s zone', () => {
    expect(localDateTimeValue(NOW)).toBe('2026-12-07T14:30');
    expect(parseLocalDateTime('2026-12-07T14:30')).toBe(NOW);
    expect(parseLocalDateTime('2026-12-07T14:30:15')).toBe(NOW + 15000);
    expect(parseLocalDateTime('7/12/2026 14:30')).toBeNull();
  });
});

describe('uniqueInput', () => {
  it('sends nothing without a key, whatever the other fields say', () => {
    expect(uniqueInput({ key: '  ', holdSeconds: 'abc', onDuplicate: 'REPLACE' })).toEqual({ value: {}, error: null, holdError: null });
  });
  it('sends the key, the policy and the hold time when given', () => {
    expect(uniqueInput({ key: 'thumb:handout-7', holdSeconds: '', onDuplicate: 'RETURN_EXISTING' }).value).toEqual({
      uniqueKey: 'thumb:handout-7',
      onDuplicate: 'RETURN_EXISTING',
    });
    expect(uniqueInput({ key: 'reindex:note-3', holdSeconds: '60', onDuplicate: 'REPLACE' }).value).toEqual({
      uniqueKey: 'reindex:note-3',
      uniqueForSeconds: 60,
      onDuplicate: 'REPLACE',
    });
  });
  it('refuses a hold time out of bounds and a key over 512 bytes', () => {
    const hold = uniqueInput({ key: 'k', holdSeconds: '2592001', onDuplicate: 'RETURN_EXISTING' });
    expect(hold.holdError).toMatch(/from 0 to 2592000/);
    expect(hold.value).toEqual({});
    const long = uniqueInput({ key: 'é'.repeat(257), holdSeconds: '', onDuplicate: 'RETURN_EXISTING' });
    expect(long.error).toBe('At most 512 bytes');
    expect(long.value).toEqual({});
  });
});

describe('holdText', () => {
  it('says how long the key is held', () => {
    expect(holdText(0)).toBe('while unfinished');
    expect(holdText(90)).toBe('while unfinished, then 1 min 30 s');
  });
});

describe('waitedFrom', () => {
  const created = '2026-12-07T10:00:00Z';
  it('counts a delayed task\'s wait from its due time', () => {
    expect(waitedFrom({ createdAt: created, runAt: '2026-12-07T11:00:00Z', status: 'PENDING' })).toBe('2026-12-07T11:00:00Z');
    expect(waitedFrom({ createdAt: created, runAt: '2026-12-07T11:00:00Z', status: 'COMPLETED' })).toBe('2026-12-07T11:00:00Z');
  });
  it('counts from the submission otherwise', () => {
    expect(waitedFrom({ createdAt: created, runAt: null, status: 'PENDING' })).toBe(created);
    // A RETRYING task's runAt is when its retry comes, not a due time.
    expect(waitedFrom({ createdAt: created, runAt: '2026-12-07T10:00:05Z', status: 'RETRYING' })).toBe(created);
  });
});
