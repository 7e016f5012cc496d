// NodeEditForm: an admin changes a node's name, role, workers and
// capabilities (updateNode). The node applies them at once, without a
// restart, and keeps them across restarts.

import { useId, useMemo, useState, type FormEvent } from 'react';

import { NODE_ROLES, type NodeRole, type ProcessingNode } from '../service/types';
import { useService, useStore } from '../state/store';
import { checkNodeDraft, nodeDraftFrom, type NodeDraft } from '../lib/nodeForm';
import { label } from '../lib/format';

const ROLE_HINT: Record<NodeRole, string> = {
  MASTER: 'Leads (when elected), runs no tasks: it finishes those it holds, then takes no new ones.',
  WORKER: 'Runs tasks, never leads: gives up leadership at once if it holds it.',
  HYBRID: 'Leads when elected, and runs tasks.',
};

export function NodeEditForm({ node, onDone }: { node: ProcessingNode; onDone: () => void }) {
  const service = useService();
  const store = useStore();
  const uid = useId();
  // The node as the form opened on it: Save sends what the admin changed
  // from that, so that a change someone else made meanwhile to another
  // field is not undone by the form's older value of it.
  const [opened] = useState(node);
  const [draft, setDraft] = useState<NodeDraft>(() => nodeDraftFrom(opened));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const check = useMemo(() => checkNodeDraft(draft, opened), [draft, opened]);
  const changes = Object.keys(check.change).length;
  const invalid = Object.keys(check.errors).length > 0;
  // From the latest draft, not the one of the last render: quick edits in a row all count.
  const set = <K extends keyof NodeDraft>(k: K, v: NodeDraft[K]) => setDraft((d) => ({ ...d, [k]: v }));

  async function save(e: FormEvent) {
    e.preventDefault();
    if (invalid || changes === 0) return;
    setBusy(true);
    setError(null);
    try {
      store.applyNodes([await service.updateNode(node.id, check.change)]);
      onDone();
    } catch (e2) {
      setError((e2 as Error).message);
    } finally {
      setBusy(false);
    }
  }

  const field = (k: keyof NodeDraft) => `${uid}-${k}`;
  return (
    <form className="form node-edit" onSubmit={save} noValidate aria-label={`Edit node ${node.name}`} data-testid="node-edit">
      <div className="form-grid">
        <label className="field" htmlFor={field('name')}>
          <span>Name</span>
          <input id={field('name')} value={draft.name} onChange={(e) => set('name', e.target.value)} aria-invalid={!!check.errors.name} />
          {check.errors.name && <small className="field-error">{check.errors.name}</small>}
        </label>
        <label className="field" htmlFor={field('role')}>
          <span>Role</span>
          <select id={field('role')} value={draft.role} onChange={(e) => set('role', e.target.value as NodeRole)}>
            {NODE_ROLES.map((r) => (
              <option key={r} value={r}>
                {label(r)}
              </option>
            ))}
          </select>
          <small className="field-hint">{ROLE_HINT[draft.role]}</small>
        </label>
        <label className="field" htmlFor={field('workers')}>
          <span>Workers</span>
          <input
            id={field('workers')}
            inputMode="numeric"
            value={draft.workers}
            onChange={(e) => set('workers', e.target.value)}
            aria-invalid={!!check.errors.workers}
          />
          <small className={check.errors.workers ? 'field-error' : 'field-hint'}>
            {check.errors.workers ?? 'Tasks it runs at once; running ones finish when it shrinks.'}
          </small>
        </label>
        <label className="field" htmlFor={field('capabilities')}>
          <span>Capabilities</span>
          <input
            id={field('capabilities')}
            className="mono"
            value={draft.capabilities}
            placeholder="any type"
            onChange={(e) => set('capabilities', e.target.value)}
            aria-invalid={!!check.errors.capabilities}
          />
          <small className={check.errors.capabilities ? 'field-error' : 'field-hint'}>
            {check.errors.capabilities ?? 'Comma-separated types or patterns (text.*); empty: any type.'}
          </small>
        </label>
      </div>
      <p className="muted small">Applied at once, without a restart, and kept when the node restarts (a flag given at its start wins).</p>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      <div className="card-actions">
        <button type="submit" className="btn btn-primary" disabled={busy || invalid || changes === 0} aria-busy={busy}>
          {busy ? 'Saving…' : 'Save'}
        </button>
        <button type="button" className="btn btn-ghost" onClick={onDone} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}
