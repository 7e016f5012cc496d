// WorkflowView: one workflow, live: its status, progress, error and
// metadata, and its graph: steps as boxes in their task's status colour,
// arrows from each step to the steps that depend on it, and a dashed
// connector from a step to the steps it added while it ran, laid out in
// layers from left to right (lib/workflowGraph.ts) on a canvas that
// scrolls. A box leads to its task. Cancel (RUNNING) and Retry (FAILED, CANCELLED), each
// confirmed first.
//
// Live: workflowUpdated carries the workflow's own fields; the steps follow
// the task feed (each step is a task, matched by id). The whole workflow is
// loaded again when its number of steps or its status changes, or a task of
// it that is not shown appears (a step added steps; a retry), and after a
// reconnection.

import { memo, useCallback, useEffect, useMemo, useRef, useState } from 'react';

import { TERMINAL_STATUSES, type TaskStatus, type TaskSummary, type Workflow, type WorkflowSummary } from '../service/types';
import { applyStepTasks } from '../state/reducers';
import { useCan } from '../state/session';
import { useService, useStore } from '../state/store';
import { int, label, timestamp } from '../lib/format';
import { Link } from '../lib/router';
import { DEFAULT_SIZES, layoutWorkflow, type GraphLayout } from '../lib/workflowGraph';
import { ActionButton, Ago, ErrorNote, ProgressBar, TaskStatusBadge, WorkflowStatusBadge, taskTone, workflowTone } from './common';
import { JsonPanel } from './TaskStatusCard';

function updatedMs(x: { updatedAt: string }): number {
  return Date.parse(x.updatedAt) || 0;
}

export function WorkflowView({ id }: { id: string }) {
  const service = useService();
  const store = useStore();
  const canCancel = useCan('cancelWorkflow');
  const canRetry = useCan('retryWorkflow');
  const [wf, setWfState] = useState<Workflow | null>(null);
  const wfRef = useRef<Workflow | null>(null);
  const setWf = useCallback((next: Workflow | null | ((cur: Workflow | null) => Workflow | null)) => {
    wfRef.current = typeof next === 'function' ? next(wfRef.current) : next;
    setWfState(wfRef.current);
  }, []);
  const [state, setState] = useState<'loading' | 'ready' | 'missing'>('loading');
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<'cancel' | 'retry' | null>(null);

  // Task events that arrive while the workflow loads are applied on top of it.
  const duringLoad = useRef<TaskSummary[] | null>(null);
  const request = useRef(0);
  const load = useCallback(async () => {
    const req = ++request.current;
    duringLoad.current = [];
    try {
      const w = await service.getWorkflow(id);
      if (req !== request.current) return;
      setWf(w ? applyStepTasks(w, duringLoad.current ?? []) : null);
      setState(w ? 'ready' : 'missing');
      setError(null);
    } catch (err) {
      if (req === request.current) setError((err as Error).message);
    } finally {
      if (req === request.current) duringLoad.current = null;
    }
  }, [service, id, setWf]);

  useEffect(() => {
    setWf(null);
    setState('loading');
    void load();
  }, [load, setWf]);

  // The steps' tasks, live. A task of this workflow that is no step shown
  // is a step added by a running step: the workflow is loaded again.
  useEffect(
    () =>
      store.onTasks((tasks) => {
        duringLoad.current?.push(...tasks);
        const cur = wfRef.current;
        if (!cur) return;
        const next = applyStepTasks(cur, tasks);
        if (next !== cur) setWf(next);
        const known = new Set(cur.steps.map((s) => s.task?.id));
        if (!duringLoad.current && tasks.some((t) => t.workflowId === id && !known.has(t.id))) void load();
      }),
    [store, setWf, id, load],
  );

  // The workflow's own fields, live; its steps again when they changed.
  const exists = state === 'ready';
  const take = useCallback(
    (s: WorkflowSummary) => {
      const cur = wfRef.current;
      if (!cur || updatedMs(s) < updatedMs(cur)) return;
      setWf({ ...cur, ...s });
      if (s.stepCount !== cur.steps.length || s.status !== cur.status) void load();
    },
    [load, setWf],
  );
  useEffect(() => (exists ? service.watchWorkflow(id, take, () => void load()) : undefined), [service, id, exists, take, load]);
  useEffect(() => store.onResync(() => void load()), [store, load]);

  // The layout depends on the steps, their dependencies and who added them only, not on their states.
  const shape = wf ? JSON.stringify(wf.steps.map((s) => [s.key, s.dependsOn, s.addedBy ?? null])) : '[]';
  const layout = useMemo(
    () =>
      layoutWorkflow(
        JSON.parse(shape).map(([key, dependsOn, addedBy]: [string, string[], string | null]) => ({ key, dependsOn, addedBy })),
      ),
    [shape],
  );

  if (state === 'missing') {
    return (
      <section aria-labelledby="workflow-title">
        <div className="page-head">
          <h1 id="workflow-title">Workflow not found</h1>
        </div>
        <p>
          No workflow has the id <span className="mono">{id}</span>: it never existed, or it ended long enough ago to be
          removed by retention.
        </p>
        <p>
          <Link to="/workflows">Back to the workflows</Link>
        </p>
      </section>
    );
  }
  if (!wf) {
    return (
      <section aria-labelledby="workflow-title" aria-busy="true">
        <div className="page-head">
          <h1 id="workflow-title">Workflow</h1>
        </div>
        {error ? <ErrorNote>Could not load the workflow: {error}</ErrorNote> : <p className="muted">Loading…</p>}
      </section>
    );
  }

  const counts = new Map<TaskStatus, number>();
  for (const s of wf.steps) {
    const st = s.task?.status;
    if (st) counts.set(st, (counts.get(st) ?? 0) + 1);
  }
  const ended = wf.steps.filter((s) => s.task && TERMINAL_STATUSES.has(s.task.status)).length;
  const running = wf.status === 'RUNNING';
  const retryable = wf.status === 'FAILED' || wf.status === 'CANCELLED';

  async function act(kind: 'cancel' | 'retry') {
    const s = kind === 'cancel' ? await service.cancelWorkflow(wf!.id) : await service.retryWorkflow(wf!.id);
    setConfirming(null);
    take(s);
  }

  return (
    <section aria-labelledby="workflow-title" className="workflow-detail" data-workflow-id={wf.id} data-status={wf.status}>
      <p className="crumbs">
        <Link to="/workflows">Workflows</Link> ›
      </p>
      <div className="page-head">
        <h1 id="workflow-title">
          {wf.name} <span className="muted mono task-id">{wf.id}</span>
        </h1>
        {((canCancel && running) || (canRetry && retryable)) && (
          <div className="card-actions">
            {confirming ? (
              <div className="confirm" role="group" aria-label={confirming === 'cancel' ? 'Cancel the workflow?' : 'Retry the workflow?'} data-testid="workflow-confirm">
                <span>
                  {confirming === 'cancel' ? (
                    <>
                      Cancel <strong>{wf.name}</strong>? Its unfinished steps are cancelled (running ones are asked to stop).
                    </>
                  ) : (
                    <>
                      Retry <strong>{wf.name}</strong>? The steps that did not complete run again, and what depends on them;
                      completed steps keep their results.
                    </>
                  )}
                </span>
                <ActionButton
                  className={`btn-small ${confirming === 'cancel' ? 'btn-danger' : 'btn-primary'}`}
                  onRun={() => act(confirming)}
                  busyLabel={confirming === 'cancel' ? 'Cancelling…' : 'Retrying…'}
                >
                  {confirming === 'cancel' ? 'Yes, cancel' : 'Yes, retry'}
                </ActionButton>
                <button type="button" className="btn btn-small" onClick={() => setConfirming(null)}>
                  {confirming === 'cancel' ? 'Keep it running' : 'Not now'}
                </button>
              </div>
            ) : (
              <>
                {canCancel && running && (
                  <button type="button" className="btn btn-danger" onClick={() => setConfirming('cancel')}>
                    Cancel
                  </button>
                )}
                {canRetry && retryable && (
                  <button type="button" className="btn" onClick={() => setConfirming('retry')}>
                    Retry
                  </button>
                )}
              </>
            )}
          </div>
        )}
      </div>

      <div className="card task-card">
        <div className="task-status-row">
          <WorkflowStatusBadge status={wf.status} />
          <span className="badge" title="What a failed step does to the rest">
            {wf.onFailure === 'CONTINUE' ? 'On failure: continue' : 'On failure: fail fast'}
          </span>
          {wf.group && (
            <Link to={`/tasks?group=${encodeURIComponent(wf.group)}`} className="badge" title="The group of its steps' tasks" data-testid="workflow-group">
              Group: {wf.group}
            </Link>
          )}
        </div>
        <div className="task-progress">
          <ProgressBar value={wf.progress} label={`Progress of ${wf.name}`} tone={workflowTone(wf.status)} />
          <span className="muted" data-testid="workflow-progress-text">
            {Math.round(wf.progress * 100)}% · {int(ended)} of {int(wf.stepCount)} steps ended
          </span>
        </div>
        {wf.error && (
          <div className={`note ${wf.status === 'CANCELLED' ? 'note-info' : 'note-error'} task-error`} data-testid="workflow-error">
            <strong>{wf.status === 'CANCELLED' ? 'Cancelled:' : 'Error:'}</strong> <span className="mono">{wf.error}</span>
          </div>
        )}
        <dl className="facts">
          <div>
            <dt>Steps</dt>
            <dd data-testid="workflow-step-counts">
              {[...counts.entries()]
                .sort((a, b) => b[1] - a[1])
                .map(([s, n]) => `${int(n)} ${label(s).toLowerCase()}`)
                .join(' · ') || '—'}
            </dd>
          </div>
          <div>
            <dt>Created</dt>
            <dd>
              <time dateTime={wf.createdAt}>{timestamp(wf.createdAt)}</time> <span className="muted small">(<Ago iso={wf.createdAt} />)</span>
            </dd>
          </div>
          <div>
            <dt>{wf.status === 'RUNNING' ? 'Completed' : `${label(wf.status)}`}</dt>
            <dd>
              <time dateTime={wf.completedAt ?? undefined}>{timestamp(wf.completedAt)}</time>
            </dd>
          </div>
          <div>
            <dt>Updated</dt>
            <dd>
              <time dateTime={wf.updatedAt}>{timestamp(wf.updatedAt)}</time>
            </dd>
          </div>
          <div>
            <dt>Tasks</dt>
            <dd>
              <Link to={`/tasks?workflow=${encodeURIComponent(wf.id)}`} data-testid="workflow-tasks-link">
                List the steps' tasks
              </Link>
            </dd>
          </div>
        </dl>
      </div>

      <section className="card wf-graph-card" aria-labelledby="wf-graph-title">
        <h2 id="wf-graph-title">Graph</h2>
        <p className="muted small">
          Each box is a step and its task (click to open it); an arrow goes from a step to the steps that wait for it,
          a dashed line from a step to the steps it added while it ran.
        </p>
        <WorkflowGraph workflow={wf} layout={layout} />
      </section>

      <div className="json-grid">
        <JsonPanel title="Metadata" value={wf.metadata} />
      </div>
    </section>
  );
}

/** The graph on a canvas that scrolls both ways (a workflow of hundreds of steps stays usable). */
function WorkflowGraph({ workflow, layout }: { workflow: Workflow; layout: GraphLayout }) {
  const { boxWidth: w, boxHeight: h } = DEFAULT_SIZES;
  const status = new Map(workflow.steps.map((s) => [s.key, s.task?.status ?? null]));
  return (
    <div className="wf-canvas-wrap" tabIndex={0} aria-label={`Graph of ${workflow.steps.length} steps`} data-testid="workflow-graph">
      <div className="wf-canvas" style={{ width: layout.width, height: layout.height }}>
        <svg className="wf-edges" width={layout.width} height={layout.height} aria-hidden="true">
          <defs>
            <marker id="wf-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" className="wf-arrowhead" />
            </marker>
            <marker id="wf-arrow-done" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" className="wf-arrowhead done" />
            </marker>
          </defs>
          {layout.edges.map((e) => {
            if (e.kind === 'addedBy') {
              // Not a dependency: no arrowhead; a wide transparent stroke under it to hover for its title.
              return (
                <g key={`${e.from}+${e.to}`} className="wf-added" data-from={e.from} data-to={e.to}>
                  <title>{`added by ${e.from}`}</title>
                  <path d={e.path} className="wf-added-hit" />
                  <path d={e.path} className="wf-added-line" />
                </g>
              );
            }
            const done = status.get(e.from) === 'COMPLETED';
            return (
              <path
                key={`${e.from}>${e.to}`}
                d={e.path}
                className={`wf-edge${done ? ' done' : ''}`}
                markerEnd={`url(#${done ? 'wf-arrow-done' : 'wf-arrow'})`}
                data-from={e.from}
                data-to={e.to}
              >
                {e.added && <title>{`added by ${e.from}, and waits for it`}</title>}
              </path>
            );
          })}
        </svg>
        {workflow.steps.map((s) => {
          const p = layout.byKey.get(s.key);
          return p ? <StepBox key={s.key} stepKey={s.key} addedBy={s.addedBy ?? null} task={s.task} x={p.x} y={p.y} w={w} h={h} /> : null;
        })}
      </div>
    </div>
  );
}

const StepBox = memo(function StepBox({
  stepKey,
  addedBy,
  task,
  x,
  y,
  w,
  h,
}: {
  stepKey: string;
  addedBy: string | null;
  task: TaskSummary | null;
  x: number;
  y: number;
  w: number;
  h: number;
}) {
  const style = { left: x, top: y, width: w, height: h };
  if (!task) {
    return (
      <div
        className="wf-step tone-muted"
        style={style}
        data-step-key={stepKey}
        data-added-by={addedBy ?? undefined}
        data-status="REMOVED"
        title={`The step's task was removed by retention${addedBy ? ` (added by ${addedBy})` : ''}`}
      >
        <span className="wf-step-key mono">{stepKey}</span>
        <span className="muted small">task removed</span>
      </div>
    );
  }
  const running = task.status === 'IN_PROGRESS';
  return (
    <Link
      to={`/tasks/${encodeURIComponent(task.id)}`}
      className={`wf-step tone-${taskTone(task.status)}${addedBy ? ' wf-step-has-added' : ''}`}
      style={style}
      data-step-key={stepKey}
      data-added-by={addedBy ?? undefined}
      data-status={task.status}
      data-task-id={task.id}
      title={`${stepKey}: ${task.type}, ${label(task.status)}${task.error ? ` (${task.error})` : ''}${addedBy ? `; added by ${addedBy}` : ''}`}
    >
      <span className="wf-step-head">
        <span className="wf-step-key mono">{stepKey}</span>
        <span className="wf-step-type mono">{task.type}</span>
      </span>
      <span className="wf-step-status">
        <TaskStatusBadge status={task.status} />
        {running && <span className="small muted">{Math.round(task.progress * 100)}%</span>}
      </span>
      {addedBy && (
        <span className="wf-step-added small muted" data-testid="step-added-by">
          added by <span className="mono">{addedBy}</span>
        </span>
      )}
      {running && <ProgressBar value={task.progress} label={`Progress of ${stepKey}`} tone="info" />}
    </Link>
  );
});
