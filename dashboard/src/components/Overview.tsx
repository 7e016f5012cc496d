// The overview: nodes and tasks by status, the leader, the alerts,
// throughput and latency over time and per task type and node (from the
// cluster's statistics, the same on every node and after a reload), and the
// latest failures.

import { useEffect, useMemo, useState } from 'react';

import { NODE_STATUSES, TASK_STATUSES, type NodeStatus } from '../service/types';
import { heartbeatsLive, shownNodeStatus, useDashboard } from '../state/store';
import { useClusterStats } from '../state/stats';
import { ago, fixed, int, label, shortId } from '../lib/format';
import { Link, navigate, useRoute } from '../lib/router';
import { AlertsSection } from './Alerts';
import { StackedBar, TimeSeriesChart } from './charts';
import { Empty, NodeStatusBadge, nodeTone, taskTone } from './common';
import { StatsTables, latency } from './StatsTables';
import { GroupCounts } from './GroupCounts';

/** The windows the charts offer, in seconds (the server picks about 60 buckets). */
const SPANS = {
  '15 min': 900,
  '1 h': 3600,
  '6 h': 6 * 3600,
  '24 h': 24 * 3600,
} as const;
type SpanKey = keyof typeof SPANS;
const SPAN_KEY = 'archivist.chartWindow';

function storedSpan(): SpanKey {
  try {
    const v = localStorage.getItem(SPAN_KEY);
    if (v && v in SPANS) return v as SpanKey;
  } catch {
    // default
  }
  return '1 h';
}

/** 0.25 -> "0.25", 2.5 -> "2.5", 40 -> "40". */
function trimNumber(v: number): string {
  return v >= 10 ? v.toFixed(0) : String(Number(v.toFixed(2)));
}

export function Overview() {
  const nodes = useDashboard((s) => s.nodes);
  const order = useDashboard((s) => s.nodeOrder);
  const counts = useDashboard((s) => s.counts);
  const config = useDashboard((s) => s.config);
  const failures = useDashboard((s) => s.failures);
  const now = useDashboard((s) => s.now);
  const offset = useDashboard((s) => s.clockOffset);
  const live = useDashboard(heartbeatsLive);
  const vouched = useDashboard((s) => s.vouched);
  const serverNow = now - offset;

  const statuses = useMemo(() => {
    const m: Record<string, NodeStatus> = {};
    for (const id of order) m[id] = shownNodeStatus(nodes[id], serverNow, config, live, vouched[id]);
    return m;
  }, [order, nodes, live, serverNow, config, vouched]);
  const nodeCounts = useMemo(() => {
    const c: Record<NodeStatus, number> = { ONLINE: 0, BUSY: 0, DRAINING: 0, OFFLINE: 0 };
    for (const id of order) c[statuses[id]]++;
    return c;
  }, [order, statuses]);
  const leader = order.map((id) => nodes[id]).find((n) => n.isLeader && statuses[n.id] !== 'OFFLINE') ?? null;
  // The leader first, then the nodes in trouble, then the others by name.
  const rank = (id: string) => (id === leader?.id ? 0 : statuses[id] === 'ONLINE' ? 2 : 1);
  const miniOrder = [...order].sort((a, b) => rank(a) - rank(b));
  const workers = order.reduce((a, id) => a + (statuses[id] === 'OFFLINE' ? 0 : nodes[id].workers), 0);
  const busy = order.reduce((a, id) => a + (statuses[id] === 'OFFLINE' ? 0 : nodes[id].activeTasks), 0);

  const totalTasks = TASK_STATUSES.reduce((a, s) => a + counts[s], 0);
  const queued = counts.PENDING + counts.ASSIGNED + counts.RETRYING;

  const [span, setSpan] = useState(storedSpan);
  // The activity of one group (/?group=NAME), or of the whole cluster.
  const statsGroup = useRoute().query.get('group') ?? '';
  const { data: statsData, error: statsError } = useClusterStats(SPANS[span], statsGroup);
  const stats = statsData?.stats ?? null;
  const showGroup = (g: string) => navigate(g ? `/?group=${encodeURIComponent(g)}` : '/', { replace: true });
  // The groups the picker offers: those the cluster-wide figures listed so far, and the one shown.
  const [knownGroups, setKnownGroups] = useState<string[]>([]);
  useEffect(() => {
    const names = (stats?.byGroup ?? []).map((g) => g.group).filter((g) => g !== '(other)');
    if (statsGroup) names.push(statsGroup);
    setKnownGroups((known) => {
      const next = [...new Set([...known, ...names])].sort();
      return next.length === known.length ? known : next.slice(0, 200);
    });
  }, [stats, statsGroup]);
  const scope = statsGroup ? `for group ${statsGroup}` : 'cluster-wide';
  const bucketMs = (stats?.bucketSeconds ?? 60) * 1000;
  // Rates per second of each bucket; the last one holds now, and its rate
  // is over the part of it that passed.
  const seconds = (at: string, i: number, n: number) => {
    const b = bucketMs / 1000;
    if (i < n - 1) return b;
    return Math.min(b, Math.max(1, (serverNow - Date.parse(at)) / 1000));
  };
  const series = stats?.series ?? [];
  const rate = (pick: (p: (typeof series)[number]) => number) =>
    series.map((p, i) => pick(p) / seconds(p.at, i, series.length));
  const lat = (pick: (p: (typeof series)[number]) => number) =>
    series.map((p) => (p.completed + p.failed > 0 ? pick(p) : null));
  // The tiles: the last minute.
  const recent = statsData?.recent ?? null;
  const recentSeconds = recent ? Math.min(60, Math.max(1, (serverNow - Date.parse(recent.from)) / 1000)) : 60;
  const perSec = recent ? recent.total.completed / recentSeconds : 0;
  const recentEnded = recent ? recent.total.completed + recent.total.failed : 0;
  const total = stats?.total ?? null;
  const ended = total ? total.completed + total.failed : 0;

  return (
    <section aria-labelledby="overview-title">
      <div className="page-head">
        <h1 id="overview-title">Overview</h1>
      </div>

      <div className="tiles">
        <Link to="/nodes" className="tile card">
          <span className="tile-label">Nodes</span>
          <span className="tile-value" data-testid="nodes-total">
            {order.length}
          </span>
          <span className="tile-sub">
            {NODE_STATUSES.filter((s) => nodeCounts[s] > 0).map((s) => (
              <span key={s} className="tile-chip">
                <span className={`dot tone-${nodeTone(s)}`} aria-hidden="true" /> {nodeCounts[s]} {label(s).toLowerCase()}
              </span>
            ))}
          </span>
        </Link>
        <div className="tile card">
          <span className="tile-label">Leader</span>
          <span className="tile-value tile-text" data-testid="leader">
            {leader ? leader.name : <span className="muted">none</span>}
          </span>
          <span className="tile-sub">{leader ? leader.address || leader.id : 'no node holds leadership'}</span>
        </div>
        <div className="tile card">
          <span className="tile-label">Workers busy</span>
          <span className="tile-value">
            {busy} <span className="tile-of">/ {workers}</span>
          </span>
          <span className="tile-sub">{workers > 0 ? `${Math.round((busy / workers) * 100)}% in use` : 'no live node'}</span>
        </div>
        <Link to="/tasks?status=PENDING" className="tile card">
          <span className="tile-label">Queued</span>
          <span className="tile-value" data-testid="queued">
            {int(queued)}
          </span>
          <span className="tile-sub">
            {int(counts.PENDING)} pending · {int(counts.RETRYING)} retrying
          </span>
        </Link>
        <div className="tile card">
          <span className="tile-label">Throughput</span>
          <span className="tile-value">
            {fixed(perSec, perSec < 10 ? 2 : 1)} <span className="tile-of">/s</span>
          </span>
          <span className="tile-sub">completed in the last minute</span>
        </div>
        <div className="tile card">
          <span className="tile-label">Latency</span>
          <span className="tile-value tile-text" data-testid="latency-tile">
            {recentEnded > 0 ? latency(recent!.total.waitP50Ms + recent!.total.runP50Ms) : '—'}
          </span>
          <span className="tile-sub">
            {recentEnded > 0
              ? `wait p50 ${latency(recent!.total.waitP50Ms)} · run p50 ${latency(recent!.total.runP50Ms)}, last minute`
              : 'no task ended in the last minute'}
          </span>
        </div>
      </div>

      <AlertsSection />

      <div className="grid-2">
        <section className="card" aria-labelledby="tasks-status-title">
          <h2 id="tasks-status-title">
            Tasks by status <span className="muted small">{int(totalTasks)} in the store</span>
          </h2>
          <StackedBar
            label={`Tasks by status: ${TASK_STATUSES.map((s) => `${label(s)} ${counts[s]}`).join(', ')}`}
            parts={TASK_STATUSES.map((s) => ({ key: label(s), value: counts[s], className: `seg tone-${taskTone(s)}` }))}
          />
          <ul className="status-list">
            {TASK_STATUSES.map((s) => (
              <li key={s}>
                <Link to={`/tasks?status=${s}`} data-testid={`count-${s}`}>
                  <span className={`dot tone-${taskTone(s)}`} aria-hidden="true" />
                  <span className="status-name">{label(s)}</span>
                  <span className="status-count">{int(counts[s])}</span>
                </Link>
              </li>
            ))}
          </ul>
        </section>

        <section className="card" aria-labelledby="nodes-status-title">
          <h2 id="nodes-status-title">Nodes by status</h2>
          <StackedBar
            label={`Nodes by status: ${NODE_STATUSES.map((s) => `${label(s)} ${nodeCounts[s]}`).join(', ')}`}
            parts={NODE_STATUSES.map((s) => ({ key: label(s), value: nodeCounts[s], className: `seg tone-${nodeTone(s)}` }))}
          />
          <ul className="node-mini">
            {miniOrder.slice(0, 8).map((id) => (
              <li key={id}>
                <Link to={`/nodes#node-${id}`}>{nodes[id].name}</Link>
                {nodes[id].isLeader && statuses[id] !== 'OFFLINE' && <span className="badge tone-leader">★ Leader</span>}
                <NodeStatusBadge status={statuses[id]} />
                <span className="muted small">
                  {nodes[id].activeTasks}/{nodes[id].workers} busy · CPU {fixed(nodes[id].health.cpuPercent, 0)}%
                </span>
              </li>
            ))}
            {order.length > 8 && (
              <li>
                <Link to="/nodes">All {order.length} nodes →</Link>
              </li>
            )}
          </ul>
        </section>
      </div>

      <GroupCounts />

      <div className="charts-head">
        <h2>
          Activity{' '}
          {statsGroup && (
            <span className="muted small" data-testid="activity-group">
              of group <span className="mono">{statsGroup}</span>
            </span>
          )}
        </h2>
        <div className="charts-controls">
          <label className="activity-group">
            <span className="muted small">Group</span>
            <select
              value={statsGroup}
              onChange={(e) => showGroup(e.target.value)}
              aria-label="Show the activity of one group"
              data-testid="activity-group-select"
            >
              <option value="">All tasks</option>
              {knownGroups.map((g) => (
                <option key={g} value={g}>
                  {g}
                </option>
              ))}
            </select>
          </label>
          <div className="segmented" role="group" aria-label="Chart window">
            {(Object.keys(SPANS) as SpanKey[]).map((k) => (
              <button
                key={k}
                type="button"
                aria-pressed={span === k}
                className={span === k ? 'on' : ''}
                onClick={() => {
                  setSpan(k);
                  try {
                    localStorage.setItem(SPAN_KEY, k);
                  } catch {
                    // not kept
                  }
                }}
              >
                {k}
              </button>
            ))}
          </div>
        </div>
      </div>
      {statsError && (
        <p className="stats-error" role="alert">
          Statistics could not be loaded: {statsError}
        </p>
      )}
      <div className="grid-2">
        <section className="card" data-testid="throughput-card">
          <TimeSeriesChart
            title="Throughput"
            bucketMs={bucketMs}
            formatY={(v) => `${trimNumber(v)}/s`}
            series={[
              { label: 'completed/s', color: 'var(--chart-ok)', values: rate((p) => p.completed) },
              { label: 'failed/s', color: 'var(--chart-bad)', values: rate((p) => p.failed), dashed: true },
              { label: 'submitted/s', color: 'var(--chart-2)', values: rate((p) => p.submitted), dashed: true },
            ]}
            summary={
              total
                ? `${int(total.completed)} completed, ${int(total.failed)} failed and ${int(total.submitted)} submitted in the last ${span}, ${scope}.`
                : 'Loading the cluster statistics…'
            }
          />
        </section>
        <section className="card" data-testid="latency-card">
          <TimeSeriesChart
            title="Latency"
            bucketMs={bucketMs}
            formatY={(v) => latency(v)}
            minTop={10}
            series={[
              { label: 'wait p50', color: 'var(--chart-1)', values: lat((p) => p.waitP50Ms) },
              { label: 'wait p95', color: 'var(--chart-1)', values: lat((p) => p.waitP95Ms), dashed: true },
              { label: 'run p50', color: 'var(--chart-3)', values: lat((p) => p.runP50Ms) },
              { label: 'run p95', color: 'var(--chart-3)', values: lat((p) => p.runP95Ms), dashed: true },
            ]}
            summary={
              total && ended > 0
                ? `Wait (submit → start) p50 ${latency(total.waitP50Ms)}, p95 ${latency(total.waitP95Ms)}; run (start → end) p50 ${latency(total.runP50Ms)}, p95 ${latency(total.runP95Ms)} over the last ${span}, ${scope}.`
                : `No task ended in the last ${span}.`
            }
          />
        </section>
      </div>

      <StatsTables stats={stats} span={span} nodes={nodes} group={statsGroup} onShowGroup={showGroup} />

      <section className="card" aria-labelledby="failures-title">
        <h2 id="failures-title">
          Recent failures{' '}
          <Link to="/tasks?status=FAILED" className="small">
            all failed →
          </Link>
        </h2>
        {failures.length === 0 ? (
          <Empty>No failed task. ✓</Empty>
        ) : (
          <div className="table-wrap">
            <table className="failures">
              <thead>
                <tr>
                  <th scope="col">Task</th>
                  <th scope="col">Type</th>
                  <th scope="col">Status</th>
                  <th scope="col">Error</th>
                  <th scope="col" className="hide-sm">
                    When
                  </th>
                </tr>
              </thead>
              <tbody>
                {failures.map((t) => (
                  <tr key={t.id}>
                    <td>
                      <Link to={`/tasks/${encodeURIComponent(t.id)}`} className="mono" title={t.id}>
                        {shortId(t.id)}
                      </Link>
                    </td>
                    <td className="mono">{t.type}</td>
                    <td>{label(t.status)}</td>
                    <td className="error-cell mono" title={t.error ?? ''}>
                      {t.error ?? '—'}
                    </td>
                    <td className="hide-sm">{ago(t.completedAt ?? t.updatedAt, serverNow)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </section>
  );
}
