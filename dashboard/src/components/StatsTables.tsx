// Per task type and per node figures of the overview's window, from the
// cluster's statistics (the stats query).

import type { ClusterStats, ProcessingNode } from '../service/types';
import { int } from '../lib/format';
import { Link } from '../lib/router';
import { Empty, ProgressBar } from './common';

/** A latency in ms as the overview shows it: sub-millisecond ones keep a decimal. */
export function latency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

export function StatsTables({
  stats,
  span,
  nodes,
}: {
  stats: ClusterStats | null;
  /** The window, in words ("1 h"). */
  span: string;
  nodes: Record<string, ProcessingNode>;
}) {
  return (
    <div className="grid-2">
      <section className="card" aria-labelledby="stats-types-title" data-testid="stats-types">
        <h2 id="stats-types-title">
          By task type <span className="muted small">last {span}</span>
        </h2>
        {!stats || stats.byType.length === 0 ? (
          <Empty>No task ended in the last {span}.</Empty>
        ) : (
          <div className="table-wrap">
            <table className="stats-table">
              <thead>
                <tr>
                  <th scope="col">Type</th>
                  <th scope="col" className="num">
                    Completed
                  </th>
                  <th scope="col" className="num">
                    Failed
                  </th>
                  <th scope="col" className="num" title="95th percentile of submission to start">
                    Wait p95
                  </th>
                  <th scope="col" className="num" title="95th percentile of start to end">
                    Run p95
                  </th>
                </tr>
              </thead>
              <tbody>
                {stats.byType.map((t) => (
                  <tr key={t.type}>
                    <td className="mono">
                      {t.type === '(other)' ? (
                        <span className="muted">{t.type}</span>
                      ) : (
                        <Link to={`/tasks?type=${encodeURIComponent(t.type)}`}>{t.type}</Link>
                      )}
                    </td>
                    <td className="num">{int(t.completed)}</td>
                    <td className={`num${t.failed > 0 ? ' text-bad' : ''}`}>{int(t.failed)}</td>
                    <td className="num">{latency(t.waitP95Ms)}</td>
                    <td className="num">{latency(t.runP95Ms)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section className="card" aria-labelledby="stats-nodes-title" data-testid="stats-nodes">
        <h2 id="stats-nodes-title">
          By node <span className="muted small">last {span}</span>
        </h2>
        {!stats || stats.byNode.length === 0 ? (
          <Empty>No node worked in the last {span}.</Empty>
        ) : (
          <div className="table-wrap">
            <table className="stats-table">
              <thead>
                <tr>
                  <th scope="col">Node</th>
                  <th scope="col" className="num">
                    Completed
                  </th>
                  <th scope="col" className="num">
                    Failed
                  </th>
                  <th scope="col" title="Busy worker time over worker time">
                    Utilization
                  </th>
                </tr>
              </thead>
              <tbody>
                {stats.byNode.map((n) => {
                  const known = nodes[n.nodeId];
                  const pct = Math.round(n.utilization * 100);
                  return (
                    <tr key={n.nodeId}>
                      <td>
                        {known ? (
                          <Link to={`/nodes#node-${n.nodeId}`}>{known.name}</Link>
                        ) : (
                          <span className="mono muted">{n.nodeId}</span>
                        )}
                      </td>
                      <td className="num">{int(n.completed)}</td>
                      <td className={`num${n.failed > 0 ? ' text-bad' : ''}`}>{int(n.failed)}</td>
                      <td className="util-cell">
                        {n.workerSeconds > 0 ? (
                          <span className="util">
                            <ProgressBar
                              value={n.utilization}
                              label={`${known?.name ?? n.nodeId} utilization ${pct}%`}
                              tone={pct >= 90 ? 'warn' : 'info'}
                            />
                            <span className="num">{pct}%</span>
                          </span>
                        ) : (
                          <span className="muted">—</span>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}
