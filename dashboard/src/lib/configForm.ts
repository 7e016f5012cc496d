// The configuration form's values, their checks (the ranges of ConfigInput
// in graph/config.graphqls) and the change to send.

import type { ConfigInput, DiscoveryMethod, DistributedProcessingConfig, LoadBalancingStrategy } from '../service/types';

/** The form's values, as typed (numbers as text). */
export interface ConfigDraft {
  enabled: boolean;
  discovery: DiscoveryMethod;
  peers: string;
  heartbeatIntervalMs: string;
  missedHeartbeats: string;
  defaultTimeoutSeconds: string;
  defaultMaxRetries: string;
  strategy: LoadBalancingStrategy;
  faultTolerance: boolean;
  cpuPercent: string;
  memoryPercent: string;
  load1: string;
  workers: string;
  retentionSeconds: string;
  retryBackoffMs: string;
  maxBackoffMs: string;
}

export type DraftErrors = Partial<Record<keyof ConfigDraft, string>>;

export function draftFrom(c: DistributedProcessingConfig): ConfigDraft {
  return {
    enabled: c.enabled,
    discovery: c.discovery,
    peers: c.peers.join('\n'),
    heartbeatIntervalMs: String(c.heartbeatIntervalMs),
    missedHeartbeats: String(c.missedHeartbeats),
    defaultTimeoutSeconds: String(c.defaultTimeoutSeconds),
    defaultMaxRetries: String(c.defaultMaxRetries),
    strategy: c.strategy,
    faultTolerance: c.faultTolerance,
    cpuPercent: String(c.thresholds.cpuPercent),
    memoryPercent: String(c.thresholds.memoryPercent),
    load1: String(c.thresholds.load1),
    workers: String(c.workers),
    retentionSeconds: String(c.retentionSeconds),
    retryBackoffMs: String(c.retryBackoffMs),
    maxBackoffMs: String(c.maxBackoffMs),
  };
}

/** The largest GraphQL Int. */
const MAX_INT = 2147483647;

function num(s: string): number | null {
  if (s.trim() === '') return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

/**
 * Checks the draft. Returns the errors by field, and, when there are none,
 * the ConfigInput with only the fields that differ from current.
 */
export function checkDraft(d: ConfigDraft, current: DistributedProcessingConfig): { errors: DraftErrors; change: ConfigInput } {
  const errors: DraftErrors = {};
  const int = (k: keyof ConfigDraft, min: number, max: number, what: string) => {
    const n = num(d[k] as string);
    if (n === null || !Number.isInteger(n) || n < min || n > max) {
      errors[k] = `${what}: a whole number from ${min} to ${max}`;
      return null;
    }
    return n;
  };
  const float = (k: keyof ConfigDraft, min: number, max: number, minExclusive: boolean, what: string) => {
    const n = num(d[k] as string);
    if (n === null || (minExclusive ? n <= min : n < min) || n > max) {
      const range = max === Infinity ? `${minExclusive ? 'above' : 'at least'} ${min}` : `${minExclusive ? 'above' : 'from'} ${min} ${minExclusive ? 'and at most' : 'to'} ${max}`;
      errors[k] = `${what}: a number ${range}`;
      return null;
    }
    return n;
  };

  const heartbeatIntervalMs = int('heartbeatIntervalMs', 10, 60000, 'Heartbeat interval');
  const missedHeartbeats = int('missedHeartbeats', 1, 100, 'Missed heartbeats');
  const defaultTimeoutSeconds = float('defaultTimeoutSeconds', 0, 86400, true, 'Default timeout');
  const defaultMaxRetries = int('defaultMaxRetries', 0, 100, 'Default retries');
  const cpuPercent = float('cpuPercent', 0, 100, false, 'CPU threshold');
  const memoryPercent = float('memoryPercent', 0, 100, false, 'Memory threshold');
  const load1 = float('load1', 0, Infinity, false, 'Load threshold');
  const workers = int('workers', 1, 10000, 'Workers');
  const retentionSeconds = float('retentionSeconds', 60, Infinity, false, 'Retention');
  const maxBackoffMs = int('maxBackoffMs', 1, MAX_INT, 'Longest backoff');
  const retryBackoffMs = int('retryBackoffMs', 1, MAX_INT, 'First backoff');
  if (retryBackoffMs !== null && maxBackoffMs !== null && retryBackoffMs > maxBackoffMs) {
    errors.retryBackoffMs = 'First backoff: not over the longest backoff';
  }
  const peers = d.peers
    .split(/[\n,]/)
    .map((p) => p.trim())
    .filter(Boolean);
  const badPeer = peers.find((p) => /\s/.test(p) || p.length > 255);
  if (badPeer) errors.peers = `Peer "${badPeer.slice(0, 40)}": a node id or host:port, without spaces, at most 255 characters`;

  const change: ConfigInput = {};
  if (Object.keys(errors).length > 0) return { errors, change };

  if (d.enabled !== current.enabled) change.enabled = d.enabled;
  if (d.discovery !== current.discovery) change.discovery = d.discovery;
  if (peers.join('\n') !== current.peers.join('\n')) change.peers = peers;
  if (heartbeatIntervalMs !== current.heartbeatIntervalMs) change.heartbeatIntervalMs = heartbeatIntervalMs!;
  if (missedHeartbeats !== current.missedHeartbeats) change.missedHeartbeats = missedHeartbeats!;
  if (defaultTimeoutSeconds !== current.defaultTimeoutSeconds) change.defaultTimeoutSeconds = defaultTimeoutSeconds!;
  if (defaultMaxRetries !== current.defaultMaxRetries) change.defaultMaxRetries = defaultMaxRetries!;
  if (d.strategy !== current.strategy) change.strategy = d.strategy;
  if (d.faultTolerance !== current.faultTolerance) change.faultTolerance = d.faultTolerance;
  const th: ConfigInput['thresholds'] = {};
  if (cpuPercent !== current.thresholds.cpuPercent) th.cpuPercent = cpuPercent!;
  if (memoryPercent !== current.thresholds.memoryPercent) th.memoryPercent = memoryPercent!;
  if (load1 !== current.thresholds.load1) th.load1 = load1!;
  if (Object.keys(th).length > 0) change.thresholds = th;
  if (workers !== current.workers) change.workers = workers!;
  if (retentionSeconds !== current.retentionSeconds) change.retentionSeconds = retentionSeconds!;
  if (retryBackoffMs !== current.retryBackoffMs) change.retryBackoffMs = retryBackoffMs!;
  if (maxBackoffMs !== current.maxBackoffMs) change.maxBackoffMs = maxBackoffMs!;
  return { errors, change };
}
