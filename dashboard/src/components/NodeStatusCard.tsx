// NodeStatusCard: one node of the cluster, live from its heartbeats.

import { memo, useState } from 'react';

import type { NodeStatus, ProcessingNode } from '../service/types';
import type { NodeHistory } from '../state/reducers';
import { useCan } from '../state/session';
import { useService, useStore } from '../state/store';
import { fixed, label } from '../lib/format';
import { Link } from '../lib/router';
import { Sparkline } from './charts';
import { ActionButton, Ago, NodeStatusBadge, ProgressBar } from './common';
import { NodeEditForm } from './NodeEditForm';

export interface NodeStatusCardProps {
  node: ProcessingNode;
  history: NodeHistory | undefined;
  /** The status to show: the node's own, or OFFLINE when its heartbeats stopped. */
  status: NodeStatus;
  /** The cluster's configuration version, to tell whether this node applies it. */
  configVersion: number | null;
  /** Whether the live feed is down: the card's data may be old. */
  stale: boolean;
}

function NodeStatusCardImpl({ node, history, status, configVersion, stale }: NodeStatusCardProps) {
  const service = useService();
  const store = useStore();
  const offline = status === 'OFFLINE';
  const canDrain = useCan('drainNode');
  const canResume = useCan('resumeNode');
  const canRemove = useCan('removeNode');
  const canEdit = useCan('updateNode');
  const [editing, setEditing] = useState(false);
  const h = node.health;
  const busyPct = node.workers > 0 ? node.activeTasks / node.workers : 0;
  const applied = configVersion === null || node.configVersion >= configVersion;
  const titleId = `node-title-${node.id}`;

  return (
    <article
      className={`card node-card status-${status.toLowerCase()}${stale ? ' stale' : ''}`}
      id={`node-${node.id}`}
      aria-labelledby={titleId}
      data-node-id={node.id}
      data-status={status}
    >
      <header className="node-head">
        <h3 id={titleId} className="node-name">
          {node.name}
        </h3>
        <div className="node-badges">
          <NodeStatusBadge status={status} />
          {node.isLeader && !offline && (
            <span className="badge tone-leader" title="Holds leadership: places tasks">
              ★ Leader
            </span>
          )}
          {node.admitted === false && !offline && (
            <span className="badge tone-bad" data-testid="not-admitted" title="Not on the peer list, or did not prove the cluster secret: gets no tasks">
              Not admitted
            </span>
          )}
          <span className="chip" data-testid="role">
            {label(node.role)}
          </span>
        </div>
      </header>
      <p className="node-sub muted">
        <span className="mono">{node.id}</span>
        {node.address && <> · {node.address}</>}
        {node.version && <> · {node.version}</>}
      </p>

      <dl className="node-metrics">
        <div>
          <dt>CPU</dt>
          <dd>
            <span className="metric-value">{fixed(h.cpuPercent)}%</span>
            <Sparkline values={history?.cpu ?? []} max={100} label={`CPU of ${node.name}, recent samples`} color="var(--chart-1)" />
          </dd>
        </div>
        <div>
          <dt>Memory</dt>
          <dd>
            <span className="metric-value">{fixed(h.memoryPercent)}%</span>
            <Sparkline values={history?.memory ?? []} max={100} label={`Memory of ${node.name}, recent samples`} color="var(--chart-2)" />
          </dd>
        </div>
        <div>
          <dt>Load</dt>
          <dd>
            <span className="metric-value" title="1, 5 and 15 minute load averages">
              {fixed(h.load1, 2)} <span className="muted">{fixed(h.load5, 2)} {fixed(h.load15, 2)}</span>
            </span>
            <Sparkline values={history?.load ?? []} label={`1-minute load of ${node.name}, recent samples`} color="var(--chart-3)" />
          </dd>
        </div>
        <div>
          <dt>Workers</dt>
          <dd className="workers">
            <span className="metric-value" data-testid="workers">
              {node.activeTasks} / {node.workers} busy
            </span>
            <ProgressBar value={busyPct} label={`${node.activeTasks} of ${node.workers} workers busy`} tone={busyPct >= 1 ? 'warn' : undefined} />
          </dd>
        </div>
      </dl>

      <div className="node-caps">
        <span className="muted">Capabilities:</span>{' '}
        {node.capabilities.length === 0 ? (
          <span className="muted">any type</span>
        ) : (
          node.capabilities.map((c) => (
            <span key={c} className="chip mono">
              {c}
            </span>
          ))
        )}
      </div>

      <p className="node-foot muted">
        Heartbeat <Ago iso={node.lastHeartbeat} />
        {' · '}
        <span className={applied ? 'cfg-applied' : 'cfg-pending'} data-testid="config-version">
          config v{node.configVersion}
          {applied ? ' ✓' : ` (v${configVersion} pending)`}
        </span>
      </p>

      {editing && canEdit && <NodeEditForm node={node} onDone={() => setEditing(false)} />}

      <div className="card-actions">
        {canEdit && !editing && (
          <button type="button" className="btn" onClick={() => setEditing(true)} title="Change this node's name, role, workers or capabilities">
            Edit
          </button>
        )}
        {node.status === 'DRAINING'
          ? canResume && (
              <ActionButton
                onRun={async () => store.applyNodes([await service.resumeNode(node.id)])}
                busyLabel="Resuming…"
                title="Let this node take new tasks again"
              >
                Resume
              </ActionButton>
            )
          : canDrain && (
              <ActionButton
                onRun={async () => store.applyNodes([await service.drainNode(node.id)])}
                disabled={offline}
                busyLabel="Draining…"
                title="Finish running tasks, take no new ones"
              >
                Drain
              </ActionButton>
            )}
        {offline && canRemove && (
          <ActionButton
            className="btn-danger"
            onRun={async () => {
              await service.removeNode(node.id);
              store.forgetNode(node.id);
            }}
            title="Forget this offline node"
          >
            Remove
          </ActionButton>
        )}
        <Link className="btn btn-ghost" to={`/tasks?node=${encodeURIComponent(node.id)}`}>
          Tasks
        </Link>
      </div>
    </article>
  );
}

export const NodeStatusCard = memo(NodeStatusCardImpl);
