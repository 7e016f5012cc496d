import { describe, expect, it } from 'vitest';

import type { DistributedProcessingConfig } from '../service/types';
import { checkDraft, draftFrom } from './configForm';

const config: DistributedProcessingConfig = {
  version: 3,
  enabled: true,
  discovery: 'REGISTRY',
  peers: [],
  heartbeatIntervalMs: 1000,
  missedHeartbeats: 3,
  defaultTimeoutSeconds: 300,
  defaultMaxRetries: 3,
  strategy: 'ROUND_ROBIN',
  faultTolerance: true,
  thresholds: { cpuPercent: 90, memoryPercent: 90, load1: 0 },
  workers: 4,
  retentionSeconds: 86400,
  retryBackoffMs: 1000,
  maxBackoffMs: 300000,
  updatedAt: null,
};

describe('checkDraft', () => {
  it('sends only what changed', () => {
    const d = { ...draftFrom(config), workers: '8', strategy: 'LEAST_BUSY' as const, cpuPercent: '80', peers: 'a:1\nb:2' };
    const { errors, change } = checkDraft(d, config);
    expect(errors).toEqual({});
    expect(change).toEqual({ workers: 8, strategy: 'LEAST_BUSY', thresholds: { cpuPercent: 80 }, peers: ['a:1', 'b:2'] });
  });

  it('sends nothing for an unchanged draft', () => {
    expect(checkDraft(draftFrom(config), config)).toEqual({ errors: {}, change: {} });
  });

  it('refuses values out of range', () => {
    const d = {
      ...draftFrom(config),
      workers: '0',
      heartbeatIntervalMs: '5',
      missedHeartbeats: '1.5',
      defaultTimeoutSeconds: '0',
      cpuPercent: '101',
      retentionSeconds: '30',
      retryBackoffMs: '500000',
      load1: '-1',
    };
    const { errors, change } = checkDraft(d, config);
    expect(Object.keys(errors).sort()).toEqual(
      ['cpuPercent', 'defaultTimeoutSeconds', 'heartbeatIntervalMs', 'load1', 'missedHeartbeats', 'retentionSeconds', 'retryBackoffMs', 'workers'].sort(),
    );
    expect(change).toEqual({});
  });
});
