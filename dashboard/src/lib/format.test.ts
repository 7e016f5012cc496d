import { describe, expect, it } from 'vitest';

import { ago, dueIn } from './format';

const T0 = Date.parse('2026-12-07T12:00:00Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

describe('dueIn', () => {
  it('says how long until a time in the future', () => {
    expect(dueIn(at(400), T0)).toBe('in 1 s');
    expect(dueIn(at(5000), T0)).toBe('in 5 s');
    expect(dueIn(at(59_000), T0)).toBe('in 59 s');
    expect(dueIn(at(5 * 60_000), T0)).toBe('in 5 min');
    expect(dueIn(at(5 * 60_000 + 20_000), T0)).toBe('in 5 min');
    expect(dueIn(at(4 * 60_000 + 50_000), T0)).toBe('in 5 min');
    expect(dueIn(at(3600_000 - 10_000), T0)).toBe('in 1 h');
    expect(dueIn(at(2 * 3600_000), T0)).toBe('in 2 h');
    expect(dueIn(at(2 * 3600_000 + 10 * 60_000), T0)).toBe('in 2 h 10 min');
    expect(dueIn(at(2 * 3600_000 - 5000), T0)).toBe('in 2 h');
    expect(dueIn(at(3 * 86400_000 + 5000), T0)).toBe('in 3 d');
  });
  it('says "due now" once the time is reached', () => {
    expect(dueIn(at(0), T0)).toBe('due now');
    expect(dueIn(at(-90_000), T0)).toBe('due now');
  });
  it('shows a dash for no time', () => {
    expect(dueIn(null, T0)).toBe('—');
    expect(dueIn('not a time', T0)).toBe('—');
  });
});

describe('ago', () => {
  it('says how long ago a time was', () => {
    expect(ago(at(-1000), T0)).toBe('just now');
    expect(ago(at(-30_000), T0)).toBe('30 s ago');
    expect(ago(at(-5 * 60_000), T0)).toBe('5 min ago');
  });
});
