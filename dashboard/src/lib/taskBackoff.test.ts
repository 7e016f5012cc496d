import { describe, expect, it } from 'vitest';

import { backoffText, checkBackoffMs, MAX_TASK_BACKOFF_MS } from './taskBackoff';

describe('checkBackoffMs', () => {
  it('reads empty as the cluster\'s', () => {
    expect(checkBackoffMs('  ')).toEqual({ ms: null, error: null });
  });
  it('reads whole milliseconds from 1 to a day', () => {
    expect(checkBackoffMs('1500')).toEqual({ ms: 1500, error: null });
    expect(checkBackoffMs(String(MAX_TASK_BACKOFF_MS)).ms).toBe(MAX_TASK_BACKOFF_MS);
  });
  it('refuses the rest', () => {
    for (const bad of ['0', '-5', '1.5', 'soon', String(MAX_TASK_BACKOFF_MS + 1)]) {
      expect(checkBackoffMs(bad).error, bad).toMatch(/whole number of milliseconds/);
    }
  });
});

describe('backoffText', () => {
  it('says when the task uses the cluster\'s', () => {
    expect(backoffText(null, null)).toBe("the cluster's");
  });
  it('shows the task\'s own values', () => {
    expect(backoffText(2000, 60000)).toBe('2.00 s, at most 1 min 00 s');
    expect(backoffText(null, 250)).toBe("cluster's, at most 250 ms");
  });
});
