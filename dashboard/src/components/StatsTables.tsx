// Per task type, per node and per group figures of the overview's window,
// from the cluster's statistics (the stats query). With the activity of one
// group shown, only that group's row is known: the rollups do not cross
// groups with types or nodes.

import type { ClusterStats, GroupStats, ProcessingNode, TypeStats } from '../service/types';
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

/** The header cells of a table of outcomes: how many ended each way, and the two latencies. */
function OutcomeHeads() {
  return (
    <>
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
    </>
  );
}

/** The cells of one row of outcomes (a task type's or a group's). */
function OutcomeCells({ of }: { of: TypeStats | GroupStats }) {
  return (
    <>
      <td className="num">{int(of.completed)}</td>
      <td className={`num${of.failed > 0 ? ' text-bad' : ''}`}>{int(of.failed)}</td>
      <td className="num">{latency(of.waitP95Ms)}</td>
      <td className="num">{latency(of.runP95Ms)}</td>
    </>
  );
}

export function StatsTables({
  stats,
  span,
  nodes,
  group,
  onShowGroup,
}: {
  stats: ClusterStats | null;
  /** The window, in words ("1 h"). */
  span: string;
  nodes: Record<string, ProcessingNode>;
  /** The group whose activity shows ('' the whole cluster). */
  group: string;
  /** Shows the activity of one group ('' all tasks). */
  onShowGroup: (group: string) => void;
}) {
  if (group) {
    return (
      <>
        <GroupStatsTable stats={stats} span={span} group={group} onShowGroup={onShowGroup} />
        <p className="muted small" data-testid="stats-group-note">
          Per type and per node figures are the cluster's only (they are not kept per group):{' '}
          <button type="button" className="btn btn-ghost btn-small" onClick={() => onShowGroup('')}>
            show all tasks
          </button>
        </p>
      </>
    );
  }
  return (
    <>
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
                    <OutcomeHeads />
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
                      <OutcomeCells of={t} />
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
      <GroupStatsTable stats={stats} span={span} group={group} onShowGroup={onShowGroup} />
    </>
  );
}

/** The groups' figures: the busiest first, each with a link to its tasks and a button to chart it alone. */
function GroupStatsTable({
  stats,
  span,
  group,
  onShowGroup,
}: {
  stats: ClusterStats | null;
  span: string;
  group: string;
  onShowGroup: (group: string) => void;
}) {
  const rows = stats?.byGroup ?? [];
  return (
    <section className="card" aria-labelledby="stats-groups-title" data-testid="stats-groups">
      <h2 id="stats-groups-title">
        By group <span className="muted small">last {span}</span>
      </h2>
      {rows.length === 0 ? (
        <Empty>{group ? `No task of group ${group} in the last ${span}.` : `No task with a group in the last ${span}.`}</Empty>
      ) : (
        <div className="table-wrap">
          <table className="stats-table">
            <thead>
              <tr>
                <th scope="col">Group</th>
                <th scope="col" className="num">
                  Submitted
                </th>
                <OutcomeHeads />
                {!group && (
                  <th scope="col">
                    <span className="sr-only">Chart</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {rows.map((g) => (
                <tr key={g.group} data-group={g.group}>
                  <td className="mono">
                    {g.group === '(other)' ? (
                      <span className="muted" title="Groups beyond the 100 a bucket keeps">
                        {g.group}
                      </span>
                    ) : (
                      <Link to={`/tasks?group=${encodeURIComponent(g.group)}`}>{g.group}</Link>
                    )}
                  </td>
                  <td className="num">{int(g.submitted)}</td>
                  <OutcomeCells of={g} />
                  {!group && (
                    <td>
                      {g.group !== '(other)' && (
                        <button
                          type="button"
                          className="btn btn-ghost btn-small"
                          onClick={() => onShowGroup(g.group)}
                          aria-label={`Chart the activity of group ${g.group}`}
                        >
                          Chart
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
