import { describe, expect, it } from 'vitest';

import { bulkApplies, bulkStatuses, confirmText, countFilter, doneText, isFailedView, selectionFilter, statusesFromQuery } from './bulk';

describe('bulkStatuses', () => {
  it('is every status the operation acts on for no filter', () => {
    expect(bulkStatuses('cancel')).toEqual(['SCHEDULED', 'WAITING', 'PENDING', 'ASSIGNED', 'IN_PROGRESS', 'RETRYING']);
    expect(bulkStatuses('retry', [])).toEqual(['FAILED', 'CANCELLED', 'TIMED_OUT']);
    expect(bulkStatuses('delete')).toEqual(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);
  });
  it('narrows the statuses of a filter', () => {
    expect(bulkStatuses('retry', ['TIMED_OUT', 'PENDING', 'FAILED'])).toEqual(['TIMED_OUT', 'FAILED']);
    expect(bulkStatuses('cancel', ['FAILED', 'TIMED_OUT'])).toEqual([]);
  });
});

describe('countFilter', () => {
  it('keeps the rest of the filter and narrows its statuses', () => {
    expect(countFilter('delete', { type: 'echo', status: ['COMPLETED', 'PENDING'] })).toEqual({ type: 'echo', status: ['COMPLETED'] });
    expect(countFilter('retry', { search: 'x' })).toEqual({ search: 'x', status: ['FAILED', 'CANCELLED', 'TIMED_OUT'] });
  });
  it('is null when the operation can change none of the tasks', () => {
    expect(countFilter('cancel', { status: ['FAILED', 'TIMED_OUT'] })).toBeNull();
  });
});

describe('bulkApplies', () => {
  const t = (status: string, more: object = {}) => ({ status, cancelRequested: false, workflowId: null, ...more }) as never;
  it('follows the server', () => {
    expect(bulkApplies('cancel', t('PENDING'))).toBe(true);
    expect(bulkApplies('cancel', t('IN_PROGRESS', { cancelRequested: true }))).toBe(false);
    expect(bulkApplies('cancel', t('COMPLETED'))).toBe(false);
    expect(bulkApplies('retry', t('TIMED_OUT'))).toBe(true);
    expect(bulkApplies('retry', t('FAILED', { workflowId: 'w' }))).toBe(false);
    expect(bulkApplies('retry', t('COMPLETED'))).toBe(false);
    expect(bulkApplies('delete', t('COMPLETED'))).toBe(true);
    expect(bulkApplies('delete', t('RETRYING'))).toBe(false);
    expect(bulkApplies('delete', t('CANCELLED', { workflowId: 'w' }))).toBe(false);
  });
});

describe('texts', () => {
  it('say how many', () => {
    expect(confirmText('retry', 1234, 'filter')).toMatch(/^Retry 1,234 tasks matching the filter\?/);
    expect(confirmText('delete', 1, 'selection')).toMatch(/^Delete 1 task of the selection\? They are removed for good/);
    expect(doneText('cancel', 3)).toBe('Cancelled 3 tasks.');
  });
});

describe('selection and views', () => {
  it('sends a selection as ids, at most 500', () => {
    expect(selectionFilter(new Set(['a', 'b']))).toEqual({ ids: ['a', 'b'] });
    expect(selectionFilter(Array.from({ length: 600 }, (_, i) => `t${i}`)).ids).toHaveLength(500);
  });
  it('knows the failed view', () => {
    expect(isFailedView({ status: ['TIMED_OUT', 'FAILED'] })).toBe(true);
    expect(isFailedView({ status: ['FAILED'] })).toBe(false);
    expect(isFailedView({})).toBe(false);
  });
});

describe('statusesFromQuery', () => {
  it('reads one status or several, dropping unknown ones', () => {
    expect(statusesFromQuery('FAILED')).toEqual(['FAILED']);
    expect(statusesFromQuery('FAILED,TIMED_OUT')).toEqual(['FAILED', 'TIMED_OUT']);
    expect(statusesFromQuery('FAILED,bogus')).toEqual(['FAILED']);
    expect(statusesFromQuery('')).toBeUndefined();
    expect(statusesFromQuery(null)).toBeUndefined();
  });
});
