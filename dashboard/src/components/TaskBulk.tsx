// TaskBulk: the bulk actions of the task list. Cancel, Retry and Delete act
// on the tasks selected on the page, or, with none selected, on every task
// the filter matches (the server walks them in batches); each asks first,
// saying how many tasks it would change.

import { useState } from 'react';

import type { TaskFilter, TaskSummary } from '../service/types';
import { useCan } from '../state/session';
import { useService } from '../state/store';
import { BULK_OPS, bulkApplies, bulkBusy, bulkVerb, confirmText, countFilter, doneText, selectionFilter, type BulkOp } from '../lib/bulk';
import { ActionButton } from './common';

interface Confirming {
  op: BulkOp;
  scope: 'selection' | 'filter';
  n: number;
}

export function TaskBulkBar({
  filter,
  tasks,
  selected,
  onClear,
  onBegin,
  onDone,
}: {
  filter: TaskFilter;
  /** The tasks on the page (the selection is among them). */
  tasks: readonly TaskSummary[];
  selected: ReadonlySet<string>;
  onClear: () => void;
  /** Called when an action is chosen, before its count: the list applies a search still being typed. */
  onBegin?: () => void;
  /** Called after an operation ran, to load the page again. */
  onDone: () => void;
}) {
  const service = useService();
  const allowed: Record<BulkOp, boolean> = { cancel: useCan('cancelTasks'), retry: useCan('retryTasks'), delete: useCan('deleteTasks') };
  const [confirming, setConfirming] = useState<Confirming | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const chosen = tasks.filter((t) => selected.has(t.id));
  const scope = chosen.length > 0 ? 'selection' : 'filter';
  const ops = BULK_OPS.filter((op) => allowed[op] && (scope === 'selection' ? chosen.some((t) => bulkApplies(op, t)) : countFilter(op, filter) !== null));
  if (!allowed.cancel && !allowed.retry && !allowed.delete) return null;

  async function begin(op: BulkOp) {
    setMessage(null);
    setError(null);
    onBegin?.();
    try {
      let n: number;
      if (scope === 'selection') {
        n = chosen.filter((t) => bulkApplies(op, t)).length;
      } else {
        const cf = countFilter(op, filter);
        n = cf ? await service.countTasks(cf) : 0;
      }
      if (n === 0) {
        setMessage(`No task to ${op.toLowerCase()}.`);
        return;
      }
      setConfirming({ op, scope, n });
    } catch (err) {
      setError((err as Error).message);
    }
  }

  async function run(c: Confirming) {
    const f = c.scope === 'selection' ? selectionFilter(chosen.filter((t) => bulkApplies(c.op, t)).map((t) => t.id)) : filter;
    const n = await service.bulkTasks(c.op, f);
    setConfirming(null);
    setMessage(doneText(c.op, n));
    if (c.scope === 'selection') onClear();
    onDone();
  }

  return (
    <div className="bulk-bar" role="group" aria-label="Bulk actions" data-testid="bulk-bar">
      {confirming ? (
        <div className="confirm confirm-wide" role="group" aria-label="Confirm the bulk action" data-testid="bulk-confirm">
          <span>{confirmText(confirming.op, confirming.n, confirming.scope)}</span>
          <ActionButton
            className={`btn-small ${confirming.op === 'retry' ? 'btn-primary' : 'btn-danger'}`}
            onRun={() => run(confirming)}
            busyLabel={bulkBusy(confirming.op)}
          >
            Yes, {confirming.op}
          </ActionButton>
          <button type="button" className="btn btn-small" onClick={() => setConfirming(null)}>
            Not now
          </button>
        </div>
      ) : (
        <>
          <span className="muted small">{scope === 'selection' ? `${chosen.length} selected:` : 'Everything matching:'}</span>
          {ops.map((op) => (
            <button
              key={op}
              type="button"
              className={`btn btn-small${op === 'retry' ? '' : ' btn-danger'}`}
              onClick={() => void begin(op)}
              data-testid={`bulk-${op}`}
            >
              {bulkVerb(op)}
              {scope === 'filter' ? ' all' : ''}
            </button>
          ))}
          {ops.length === 0 && <span className="muted small">nothing to act on</span>}
          {scope === 'selection' && (
            <button type="button" className="btn btn-ghost btn-small" onClick={onClear}>
              Clear selection
            </button>
          )}
        </>
      )}
      {message && (
        <span className="muted small" role="status" data-testid="bulk-result">
          {message}
        </span>
      )}
      {error && (
        <span className="small error-text" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}
