// The cluster configuration: view and edit DistributedProcessingConfig, and
// see which version each node applies.

import { useEffect, useMemo, useState, type FormEvent, type ReactNode } from 'react';

import { DISCOVERY_METHODS, STRATEGIES, type DiscoveryMethod, type LoadBalancingStrategy } from '../service/types';
import { useCan } from '../state/session';
import { heartbeatsLive, shownNodeStatus, useDashboard, useService, useStore } from '../state/store';
import { checkDraft, draftFrom, type ConfigDraft } from '../lib/configForm';
import { label, timestamp } from '../lib/format';
import { ErrorNote, NodeStatusBadge, NotAllowed } from './common';

export function ConfigView() {
  const service = useService();
  const store = useStore();
  const config = useDashboard((s) => s.config);
  const nodes = useDashboard((s) => s.nodes);
  const order = useDashboard((s) => s.nodeOrder);
  const now = useDashboard((s) => s.now);
  const offset = useDashboard((s) => s.clockOffset);
  const live = useDashboard(heartbeatsLive);
  const vouched = useDashboard((s) => s.vouched);
  const canEdit = useCan('updateConfig');
  const [draft, setDraft] = useState<ConfigDraft | null>(config ? draftFrom(config) : null);
  // The version the draft started from, and whether it holds edits.
  const [base, setBase] = useState(config?.version ?? -1);
  const [edited, setEdited] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<number | null>(null);

  const check = useMemo(() => (draft && config ? checkDraft(draft, config) : null), [draft, config]);
  const changes = check ? Object.keys(check.change).length : 0;

  // The form follows the live configuration while it holds no edits.
  useEffect(() => {
    if (config && (!edited || draft === null)) {
      setDraft(draftFrom(config));
      setBase(config.version);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [config]);

  const reset = () => {
    if (!config) return;
    setDraft(draftFrom(config));
    setBase(config.version);
    setEdited(false);
  };

  if (!config || !draft || !check) {
    return (
      <section aria-labelledby="config-title">
        <div className="page-head">
          <h1 id="config-title">Configuration</h1>
        </div>
        <p className="muted">Loading…</p>
      </section>
    );
  }

  // From the latest draft, not the one of the last render: quick edits in a row all count.
  const set = <K extends keyof ConfigDraft>(k: K, v: ConfigDraft[K]) => {
    setDraft((d) => (d ? { ...d, [k]: v } : d));
    setEdited(true);
    setSaved(null);
  };
  const err = (k: keyof ConfigDraft) => check.errors[k];

  async function save(e: FormEvent) {
    e.preventDefault();
    if (!check || Object.keys(check.errors).length > 0 || changes === 0) return;
    setBusy(true);
    setError(null);
    try {
      const c = await service.updateConfig(check.change);
      store.setConfig(c);
      setDraft(draftFrom(c));
      setBase(c.version);
      setEdited(false);
      setSaved(c.version);
    } catch (e2) {
      setError((e2 as Error).message);
    } finally {
      setBusy(false);
    }
  }

  const serverNow = now - offset;
  const target = saved ?? config.version;
  const online = order.filter((id) => (shownNodeStatus(nodes[id], serverNow, config, live, vouched[id])) !== 'OFFLINE');
  const applied = online.filter((id) => nodes[id].configVersion >= target);

  return (
    <section aria-labelledby="config-title">
      <div className="page-head">
        <h1 id="config-title">Configuration</h1>
        <p className="muted">
          Version <strong data-testid="config-version-current">{config.version}</strong>
          {config.updatedAt ? ` · stored ${timestamp(config.updatedAt)}` : ' · defaults'}
        </p>
      </div>

      {base !== config.version && edited && (
        <div className="note note-warn" role="status">
          The configuration changed to version {config.version} while you edited it.{' '}
          <button type="button" className="btn btn-small" onClick={reset}>
            Load version {config.version}
          </button>
        </div>
      )}

      {!canEdit && <NotAllowed action="updateConfig">You can read the configuration, not change it.</NotAllowed>}

      <form className="form config-form" onSubmit={save} noValidate data-readonly={!canEdit || undefined}>
        <fieldset className="card" disabled={!canEdit}>
          <legend>Cluster</legend>
          <div className="form-grid">
            <Check
              label="Distributed processing"
              hint="On: the leader places tasks on nodes. Off: each node runs only what is submitted to it; other tasks wait."
              checked={draft.enabled}
              onChange={(v) => set('enabled', v)}
            />
            <Check
              label="Fault tolerance"
              hint="On: failed attempts are retried and a lost node's tasks run elsewhere, so a task may run twice. Off: no task runs twice; one cut off by a failure or a lost node ends FAILED with the reason."
              checked={draft.faultTolerance}
              onChange={(v) => set('faultTolerance', v)}
            />
            <Select label="Discovery" value={draft.discovery} options={DISCOVERY_METHODS} onChange={(v) => set('discovery', v as DiscoveryMethod)} />
            <Select label="Load balancing" value={draft.strategy} options={STRATEGIES} onChange={(v) => set('strategy', v as LoadBalancingStrategy)} />
            <Field label="Workers per node" name="workers" value={draft.workers} onChange={(v) => set('workers', v)} error={err('workers')} hint="1 to 10000; a node with its own number (set on the Nodes page, or --workers at its start) keeps it." />
            <label className="field span-2">
              <span>Peers (manual discovery)</span>
              <textarea
                name="peers"
                rows={2}
                className="mono"
                value={draft.peers}
                onChange={(e) => set('peers', e.target.value)}
                placeholder="one node id or host:port per line; empty admits every node"
                aria-invalid={!!err('peers')}
              />
              {err('peers') && <small className="field-error">{err('peers')}</small>}
            </label>
          </div>
        </fieldset>

        <fieldset className="card" disabled={!canEdit}>
          <legend>Heartbeats</legend>
          <div className="form-grid">
            <Field label="Interval (ms)" name="heartbeatIntervalMs" value={draft.heartbeatIntervalMs} onChange={(v) => set('heartbeatIntervalMs', v)} error={err('heartbeatIntervalMs')} hint="10 to 60000" />
            <Field label="Missed before offline" name="missedHeartbeats" value={draft.missedHeartbeats} onChange={(v) => set('missedHeartbeats', v)} error={err('missedHeartbeats')} hint="1 to 100 intervals" />
          </div>
        </fieldset>

        <fieldset className="card" disabled={!canEdit}>
          <legend>Tasks</legend>
          <div className="form-grid">
            <Field label="Default timeout (s)" name="defaultTimeoutSeconds" value={draft.defaultTimeoutSeconds} onChange={(v) => set('defaultTimeoutSeconds', v)} error={err('defaultTimeoutSeconds')} hint="above 0, at most 86400" />
            <Field label="Default max retries" name="defaultMaxRetries" value={draft.defaultMaxRetries} onChange={(v) => set('defaultMaxRetries', v)} error={err('defaultMaxRetries')} hint="0 to 100" />
            <Field label="First retry backoff (ms)" name="retryBackoffMs" value={draft.retryBackoffMs} onChange={(v) => set('retryBackoffMs', v)} error={err('retryBackoffMs')} hint="doubles with each failure" />
            <Field label="Longest backoff (ms)" name="maxBackoffMs" value={draft.maxBackoffMs} onChange={(v) => set('maxBackoffMs', v)} error={err('maxBackoffMs')} />
            <Field label="Retention (s)" name="retentionSeconds" value={draft.retentionSeconds} onChange={(v) => set('retentionSeconds', v)} error={err('retentionSeconds')} hint="how long finished tasks are kept; at least 60" />
          </div>
        </fieldset>

        <fieldset className="card" disabled={!canEdit}>
          <legend>Busy thresholds</legend>
          <p className="muted small">A node over a limit turns BUSY and gets no new tasks. 0 disables a limit.</p>
          <div className="form-grid">
            <Field label="CPU (%)" name="cpuPercent" value={draft.cpuPercent} onChange={(v) => set('cpuPercent', v)} error={err('cpuPercent')} hint="0 to 100" />
            <Field label="Memory (%)" name="memoryPercent" value={draft.memoryPercent} onChange={(v) => set('memoryPercent', v)} error={err('memoryPercent')} hint="0 to 100" />
            <Field label="Load per core (1 min)" name="load1" value={draft.load1} onChange={(v) => set('load1', v)} error={err('load1')} hint="0 or more" />
          </div>
        </fieldset>

        {error && <ErrorNote>The node refused the change: {error}</ErrorNote>}
        {canEdit && (
          <div className="form-actions sticky-actions">
            <button type="submit" className="btn btn-primary" disabled={busy || changes === 0 || Object.keys(check.errors).length > 0}>
              {busy ? 'Saving…' : changes > 0 ? `Save ${changes} change${changes === 1 ? '' : 's'}` : 'No changes'}
            </button>
            <button type="button" className="btn btn-ghost" disabled={!edited} onClick={reset}>
              Reset
            </button>
            {Object.keys(check.errors).length > 0 && (
              <span className="field-error" role="status">
                Fix the fields marked in red to save.
              </span>
            )}
            {saved !== null && (
              <span className="muted" role="status" data-testid="config-saved">
                Saved version {saved}: applied on {applied.length} of {online.length} live node{online.length === 1 ? '' : 's'}.
              </span>
            )}
          </div>
        )}
      </form>

      <section className="card" aria-labelledby="applied-title">
        <h2 id="applied-title">Applied on the nodes</h2>
        <p className="muted small">
          Each node applies a new version at its next heartbeat. A node's own role, workers, name and capabilities are changed on the Nodes page (Edit).
        </p>
        <div className="table-wrap">
          <table className="applied">
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Workers
                </th>
                <th scope="col">Config</th>
              </tr>
            </thead>
            <tbody>
              {order.map((id) => {
                const n = nodes[id];
                const st = shownNodeStatus(n, serverNow, config, live, vouched[n.id]);
                const ok = n.configVersion >= config.version;
                return (
                  <tr key={id} data-node-id={id}>
                    <td>{n.name}</td>
                    <td>{label(n.role)}</td>
                    <td>
                      <NodeStatusBadge status={st} />
                    </td>
                    <td className="num">{n.workers}</td>
                    <td className={ok ? 'cfg-applied' : 'cfg-pending'} data-testid="node-config-version">
                      v{n.configVersion} {ok ? '✓ applied' : st === 'OFFLINE' ? '(offline)' : '… applying'}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </section>
    </section>
  );
}

function Field({
  label: text,
  name,
  value,
  onChange,
  error,
  hint,
}: {
  label: string;
  name: string;
  value: string;
  onChange: (v: string) => void;
  error?: string;
  hint?: ReactNode;
}) {
  const id = `cfg-${name}`;
  return (
    <label className="field" htmlFor={id}>
      <span>{text}</span>
      <input
        id={id}
        name={name}
        inputMode="decimal"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={!!error}
        aria-describedby={`${id}-msg`}
      />
      <small id={`${id}-msg`} className={error ? 'field-error' : 'field-hint'}>
        {error ?? hint}
      </small>
    </label>
  );
}

function Select({ label: text, value, options, onChange }: { label: string; value: string; options: readonly string[]; onChange: (v: string) => void }) {
  return (
    <label className="field">
      <span>{text}</span>
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        {options.map((o) => (
          <option key={o} value={o}>
            {label(o)}
          </option>
        ))}
      </select>
    </label>
  );
}

function Check({ label: text, hint, checked, onChange }: { label: string; hint: string; checked: boolean; onChange: (v: boolean) => void }) {
  return (
    <label className="field check-field">
      <span className="check">
        <input type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} /> {text}
      </span>
      <small className="field-hint">{hint}</small>
    </label>
  );
}
