import { describe, expect, it } from 'vitest';

import type { DistributedProcessingService } from '../service/DistributedProcessingService';
import type { ProcessingNode } from '../service/types';
import { DashboardStore } from './store';

const service = {
  connection: () => 'online',
  storeHealth: () => ({ reachable: true, message: null, since: null }),
} as unknown as DistributedProcessingService;

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

describe('DashboardStore.nodeStatus', () => {
  it('does not call nodes offline for heartbeats that an unreachable store could not take', () => {
    const live = {
      connection: () => ({ phase: 'online', everConnected: true, attempt: 0, nextRetryAt: null, since: 0, reason: null }),
      storeHealth: () => ({ reachable: true, message: null, since: null }),
    } as unknown as DistributedProcessingService;
    const store = new DashboardStore(live);
    const stale = { ...node('a', new Date(Date.now() - 60_000).toISOString()), status: 'ONLINE' as const };
    store.applyNodes([stale]);
    // The store answers and the heartbeat is a minute old: the node is gone.
    expect(store.nodeStatus(store.state.nodes.a)).toBe('OFFLINE');
    // The node said lately, answering a query, that it is alive (as just
    // after a store outage, when no heartbeat got through yet).
    store.state = { ...store.state, vouched: { a: Date.now() } };
    expect(store.nodeStatus(store.state.nodes.a)).toBe('ONLINE');
    store.state = { ...store.state, vouched: {} };
    // The store is out of reach: the node is as last known.
    store.state = { ...store.state, store: { reachable: false, message: 'the Redis store at 127.0.0.1:1 cannot be reached', since: Date.now() } };
    expect(store.nodeStatus(store.state.nodes.a)).toBe('ONLINE');
  });
});
