import { describe, expect, it } from 'vitest';

import type { TaskGroup } from '../service/types';
import { groupError, groupRow, MAX_GROUP_BYTES } from './group';

describe('groupError', () => {
  it('accepts no group and ordinary names, unicode included', () => {
    expect(groupError('')).toBeNull();
    expect(groupError('campaign-42')).toBeNull();
    expect(groupError('Wörld of ✓ 7')).toBeNull();
    expect(groupError('x'.repeat(MAX_GROUP_BYTES))).toBeNull();
  });

  it('refuses what the API refuses', () => {
    expect(groupError('x'.repeat(MAX_GROUP_BYTES + 1))).toMatch(/256 bytes/);
    expect(groupError('é'.repeat(129))).toMatch(/256 bytes/); // 258 bytes of UTF-8
    expect(groupError('   ')).toMatch(/blank/);
    expect(groupError('*')).toMatch(/reserved/);
    expect(groupError('a\tb')).toMatch(/control/);
    expect(groupError('a\u0085b')).toMatch(/control/);
  });
});

describe('groupRow', () => {
  it('sums the statuses into the columns', () => {
    const g: TaskGroup = {
      group: 'campaign-42',
      unfinished: 9,
      total: 17,
      counts: [
        { status: 'SCHEDULED', count: 1 },
        { status: 'WAITING', count: 2 },
        { status: 'PENDING', count: 3 },
        { status: 'ASSIGNED', count: 1 },
        { status: 'IN_PROGRESS', count: 1 },
        { status: 'RETRYING', count: 1 },
        { status: 'COMPLETED', count: 4 },
        { status: 'FAILED', count: 1 },
        { status: 'CANCELLED', count: 2 },
        { status: 'TIMED_OUT', count: 1 },
      ],
    };
    expect(groupRow(g)).toEqual({
      group: 'campaign-42',
      waiting: 7,
      running: 2,
      completed: 4,
      failed: 2,
      cancelled: 2,
      unfinished: 9,
      total: 17,
    });
  });
});
