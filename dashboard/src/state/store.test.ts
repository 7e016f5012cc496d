import { describe, expect, it } from 'vitest';

import type { DistributedProcessingService } from '../service/DistributedProcessingService';
import type { ProcessingNode } from '../service/types';
import { DashboardStore } from './store';

const service = { connection: () => 'online' } as unknown as DistributedProcessingService;

function node(id: string, lastHeartbeat: string): ProcessingNode {
  return {
    id,
    name: id,
    address: '127.0.0.1:1',
    role: 'HYBRID',
    status: 'OFFLINE',
    capabilities: [],
    taskTypes: [],
    workers: 2,
    activeTasks: 0,
    isLeader: false,
    lastHeartbeat,
    startedAt: lastHeartbeat,
    version: 'dev',
    discovery: 'REGISTRY',
    configVersion: 1,
    health: { cpuPercent: 0, memoryPercent: 0, load1: 0, load5: 0, load15: 0, sampledAt: lastHeartbeat },
  } as ProcessingNode;
}

describe('DashboardStore.forgetNode', () => {
  it('keeps a removed node away from events that were on their way, until it heartbeats again', () => {
    const store = new DashboardStore(service);
    store.applyNodes([node('a', '2026-11-27T21:00:00.000Z'), node('b', '2026-11-27T21:00:00.500Z')]);
    store.forgetNode('b');
    expect(store.state.nodeOrder).toEqual(['a']);

    // A heartbeat event sent before the removal, delivered after it.
    store.applyNodes([node('b', '2026-11-27T21:00:00.500Z'), node('a', '2026-11-27T21:00:01.000Z')]);
    expect(Object.keys(store.state.nodes)).toEqual(['a']);

    // The node restarts: its new heartbeat brings it back.
    store.applyNodes([node('b', '2026-11-27T21:00:05.000Z')]);
    expect(store.state.nodeOrder).toEqual(['a', 'b']);
    // And a later stale event is no longer filtered: it is an ordinary update.
    store.applyNodes([node('b', '2026-11-27T21:00:06.000Z')]);
    expect(store.state.nodes.b.lastHeartbeat).toBe('2026-11-27T21:00:06.000Z');
  });
});
