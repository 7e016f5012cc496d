// NodeList: every node of the cluster as a NodeStatusCard, with a filter.

import { useEffect, useMemo, useState } from 'react';

import { NODE_STATUSES, type NodeStatus } from '../service/types';
import { heartbeatsLive, shownNodeStatus, useDashboard } from '../state/store';
import { label } from '../lib/format';
import { Empty, ErrorNote, nodeTone } from './common';
import { NodeStatusCard } from './NodeStatusCard';

export function NodeList() {
  const nodes = useDashboard((s) => s.nodes);
  const order = useDashboard((s) => s.nodeOrder);
  const history = useDashboard((s) => s.history);
  const config = useDashboard((s) => s.config);
  const now = useDashboard((s) => s.now);
  const offset = useDashboard((s) => s.clockOffset);
  const live = useDashboard(heartbeatsLive);
  const vouched = useDashboard((s) => s.vouched);
  // The data may be out of date: the page's feed is down, or the node's store.
  const fresh = useDashboard((s) => s.connection.phase === 'online' && s.store.reachable);
  const loaded = useDashboard((s) => s.loaded);
  const loadError = useDashboard((s) => s.loadError);
  const [text, setText] = useState('');
  const [only, setOnly] = useState<NodeStatus | ''>('');

  const serverNow = now - offset;
  const statuses = useMemo(() => {
    const m: Record<string, NodeStatus> = {};
    for (const id of order) {
      const n = nodes[id];
      m[id] = shownNodeStatus(n, serverNow, config, live, vouched[n.id]);
    }
    return m;
  }, [order, nodes, live, serverNow, config, vouched]);

  const counts = useMemo(() => {
    const c: Record<NodeStatus, number> = { ONLINE: 0, BUSY: 0, DRAINING: 0, OFFLINE: 0 };
    for (const id of order) c[statuses[id]]++;
    return c;
  }, [order, statuses]);

  const q = text.trim().toLowerCase();
  const shown = order.filter((id) => {
    const n = nodes[id];
    if (only && statuses[id] !== only) return false;
    if (!q) return true;
    return [n.name, n.id, n.address, n.role, ...n.capabilities].some((s) => s.toLowerCase().includes(q));
  });

  // /nodes#node-ID scrolls to that node's card (links from tasks).
  useEffect(() => {
    const id = decodeURIComponent(window.location.hash.slice(1));
    if (id) document.getElementById(id)?.scrollIntoView({ block: 'center' });
  }, [loaded]);

  return (
    <section aria-labelledby="nodes-title">
      <div className="page-head">
        <h1 id="nodes-title">Nodes</h1>
        <p className="muted">
          {order.length} node{order.length === 1 ? '' : 's'} · workers{' '}
          {order.reduce((a, id) => a + (statuses[id] === 'OFFLINE' ? 0 : nodes[id].activeTasks), 0)} busy of{' '}
          {order.reduce((a, id) => a + (statuses[id] === 'OFFLINE' ? 0 : nodes[id].workers), 0)}
        </p>
      </div>
      <div className="toolbar" role="group" aria-label="Filter nodes">
        <label className="field field-inline">
          <span>Search</span>
          <input type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="name, id, address, capability" />
        </label>
        <div className="segmented" role="group" aria-label="Status">
          <button type="button" aria-pressed={only === ''} className={only === '' ? 'on' : ''} onClick={() => setOnly('')}>
            All {order.length}
          </button>
          {NODE_STATUSES.map((s) => (
            <button
              key={s}
              type="button"
              aria-pressed={only === s}
              className={only === s ? 'on' : ''}
              onClick={() => setOnly(only === s ? '' : s)}
            >
              <span className={`dot tone-${nodeTone(s)}`} aria-hidden="true" /> {label(s)} {counts[s]}
            </button>
          ))}
        </div>
      </div>
      {loadError && !loaded && <ErrorNote>Could not load the nodes: {loadError}</ErrorNote>}
      {loaded && shown.length === 0 && <Empty>No node matches.</Empty>}
      <div className="node-grid">
        {shown.map((id) => (
          <NodeStatusCard
            key={id}
            node={nodes[id]}
            history={history[id]}
            status={statuses[id]}
            configVersion={config?.version ?? null}
            stale={!fresh}
          />
        ))}
      </div>
    </section>
  );
}
