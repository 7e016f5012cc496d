// TaskStatusCard: everything about one task, live: status, progress,
// attempts, retry backoff, node, timestamps (and the due time of a
// SCHEDULED task), unique key, schedule, input, result and error; cancel
// and retry.

import { useCallback, useEffect, useState } from 'react';

import { RETRYABLE_STATUSES, TERMINAL_STATUSES, type TaskDetail } from '../service/types';
import { useCan } from '../state/session';
import { useDashboard, useService, useStore } from '../state/store';
import { between, duration, timestamp } from '../lib/format';
import { prettyJSON } from '../lib/json';
import { backoffText } from '../lib/taskBackoff';
import { holdText, waitedFrom } from '../lib/taskSubmit';
import { Link, useRoute } from '../lib/router';
import { heldByText } from '../lib/limitForm';
import { ActionButton, Due, ErrorNote, PriorityBadge, ProgressBar, TaskStatusBadge, WorkflowStatusBadge, taskTone } from './common';
import { workflowHref } from './WorkflowList';

export function TaskStatusCard({ id }: { id: string }) {
  const service = useService();
  const store = useStore();
  const now = useDashboard((s) => s.now);
  const offset = useDashboard((s) => s.clockOffset);
  const nodes = useDashboard((s) => s.nodes);
  const canCancel = useCan('cancelTask');
  const canRetry = useCan('retryTask');
  // The submit form sends here with ?duplicate=1 when the unique key was held by this task.
  const duplicate = useRoute().query.get('duplicate') === '1';
  const [task, setTask] = useState<TaskDetail | null>(null);
  const [state, setState] = useState<'loading' | 'ready' | 'missing'>('loading');
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const t = await service.getTask(id);
      setTask((cur) => (cur && t && cur.id === t.id && updatedMs(t) < updatedMs(cur) ? cur : t));
      setState(t ? 'ready' : 'missing');
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    }
  }, [service, id]);

  useEffect(() => {
    setTask(null);
    setState('loading');
    void load();
  }, [load]);

  // Live changes of this task (with its result), once it is known to exist.
  // Events come in order; a mutation's answer may arrive after events that
  // already went past it (a retried task's new attempt), so it is taken only
  // when it is newer than what is shown.
  const exists = state === 'ready';
  const fromEvent = useCallback((t: TaskDetail) => setTask((cur) => (cur && updatedMs(t) < updatedMs(cur) ? cur : t)), []);
  const fromMutation = useCallback((t: TaskDetail) => setTask((cur) => (cur && updatedMs(t) <= updatedMs(cur) ? cur : t)), []);
  useEffect(() => (exists ? service.watchTask(id, fromEvent) : undefined), [service, id, exists, fromEvent]);
  useEffect(() => store.onResync(() => void load()), [store, load]);

  if (state === 'missing') {
    return (
      <section aria-labelledby="task-title">
        <div className="page-head">
          <h1 id="task-title">Task not found</h1>
        </div>
        <p>
          No task has the id <span className="mono">{id}</span>: it never existed, or it finished long enough ago to be removed by
          retention.
        </p>
        <p>
          <Link to="/tasks">Back to the tasks</Link>
        </p>
      </section>
    );
  }

  if (!task) {
    return (
      <section aria-labelledby="task-title" aria-busy="true">
        <div className="page-head">
          <h1 id="task-title">Task</h1>
        </div>
        {error ? <ErrorNote>Could not load the task: {error}</ErrorNote> : <p className="muted">Loading…</p>}
      </section>
    );
  }

  const serverNow = now - offset;
  const done = TERMINAL_STATUSES.has(task.status);
  const progress = task.status === 'COMPLETED' ? 1 : task.progress;
  const nodeName = task.node?.name ?? (task.nodeId ? nodes[task.nodeId]?.name : null) ?? task.nodeId;

  return (
    <section aria-labelledby="task-title" className="task-detail" data-task-id={task.id} data-status={task.status}>
      <p className="crumbs">
        <Link to="/tasks">Tasks</Link> ›
        {task.workflow && (
          <>
            {' '}
            <Link to={workflowHref(task.workflow.id)}>{task.workflow.name}</Link> ›
          </>
        )}
      </p>
      {duplicate && (
        <div className="note note-info" role="status" data-testid="duplicate-notice">
          <strong>A task with this unique key already exists: showing it.</strong> Nothing new was submitted; the key{' '}
          {task.uniqueKey && <span className="mono">{task.uniqueKey}</span>} is held by task{' '}
          <Link to={`/tasks/${encodeURIComponent(task.id)}`} className="mono" data-testid="duplicate-link">
            {task.id}
          </Link>
          .
        </div>
      )}
      <div className="page-head">
        <h1 id="task-title">
          <span className="mono">{task.type}</span> <span className="muted mono task-id">{task.id}</span>
        </h1>
        {(canCancel || canRetry) && (
          <div className="card-actions">
            {canCancel && (
              <ActionButton
                className="btn-danger"
                onRun={async () => fromMutation(await service.cancelTask(task.id))}
                disabled={done || task.cancelRequested}
                busyLabel="Cancelling…"
                title={done ? 'The task has finished' : 'Stop this task'}
              >
                {task.cancelRequested && !done ? 'Cancelling…' : 'Cancel'}
              </ActionButton>
            )}
            {canRetry && (
              <ActionButton
                onRun={async () => fromMutation(await service.retryTask(task.id))}
                disabled={!RETRYABLE_STATUSES.has(task.status)}
                busyLabel="Retrying…"
                title={RETRYABLE_STATUSES.has(task.status) ? 'Queue this task again' : 'Only failed, cancelled or timed-out tasks can be retried'}
              >
                Retry
              </ActionButton>
            )}
          </div>
        )}
      </div>

      <div className="card task-card">
        <div className="task-status-row">
          <TaskStatusBadge status={task.status} />
          <PriorityBadge priority={task.priority} />
          {task.cancelRequested && !done && <span className="badge tone-warn">Cancel requested</span>}
        </div>
        {task.heldBy && task.status === 'PENDING' && (
          <div className="note note-warn" role="status" data-testid="task-held-by">
            Held back: {heldByText(task.heldBy)}. It is placed once that clears (see <Link to="/limits">Limits</Link>).
          </div>
        )}
        <div className="task-progress">
          <ProgressBar value={progress} label={`Progress of ${task.id}`} tone={task.status === 'IN_PROGRESS' ? 'info' : taskTone(task.status)} />
          <span className="muted" data-testid="progress-text">
            {Math.round(progress * 100)}%{task.progressMessage ? ` · ${task.progressMessage}` : ''}
          </span>
        </div>
        {task.error && (
          <div className="note note-error task-error">
            <strong>Error{task.status === 'RETRYING' ? ' (retrying)' : ''}:</strong> <span className="mono">{task.error}</span>
          </div>
        )}

        <dl className="facts">
          <div>
            <dt>Node</dt>
            <dd>{task.nodeId ? <Link to={`/nodes#node-${task.nodeId}`}>{nodeName}</Link> : <span className="muted">not placed yet</span>}</dd>
          </div>
          <div>
            <dt>Attempts</dt>
            <dd>
              {task.attempts} <span className="muted">({task.failures} failed, up to {task.maxRetries} retries)</span>
            </dd>
          </div>
          <div>
            <dt>Timeout</dt>
            <dd>{duration(task.timeoutSeconds * 1000)}</dd>
          </div>
          <div>
            <dt>Retry backoff</dt>
            <dd data-testid="task-backoff">{backoffText(task.retryBackoffMs, task.maxBackoffMs)}</dd>
          </div>
          <div>
            <dt>Waited</dt>
            <dd>
              {task.status === 'SCHEDULED'
                ? 'not due yet'
                : task.status === 'WAITING'
                ? 'waiting for the steps it depends on'
                : duration(between(waitedFrom(task), task.startedAt ?? (done ? task.completedAt : null), serverNow))}
            </dd>
          </div>
          <div>
            <dt>Run time</dt>
            <dd>{task.startedAt ? duration(between(task.startedAt, done ? task.completedAt : null, serverNow)) : '—'}</dd>
          </div>
          <div>
            <dt>Created</dt>
            <dd>
              <time dateTime={task.createdAt}>{timestamp(task.createdAt)}</time>
            </dd>
          </div>
          <div>
            <dt>Assigned</dt>
            <dd>
              <time dateTime={task.assignedAt ?? undefined}>{timestamp(task.assignedAt)}</time>
            </dd>
          </div>
          <div>
            <dt>Started</dt>
            <dd>
              <time dateTime={task.startedAt ?? undefined}>{timestamp(task.startedAt)}</time>
            </dd>
          </div>
          <div>
            <dt>{task.status === 'CANCELLED' ? 'Cancelled' : 'Completed'}</dt>
            <dd>
              <time dateTime={task.completedAt ?? undefined}>{timestamp(task.completedAt)}</time>
            </dd>
          </div>
          <div>
            <dt>Updated</dt>
            <dd>
              <time dateTime={task.updatedAt}>{timestamp(task.updatedAt)}</time>
            </dd>
          </div>
          {task.runAt && task.status === 'SCHEDULED' && (
            <div>
              <dt>Runs</dt>
              <dd data-testid="task-run-at">
                <Due iso={task.runAt} testId="task-due" />{' '}
                <span className="muted small">
                  (<time dateTime={task.runAt}>{timestamp(task.runAt)}</time>)
                </span>
              </dd>
            </div>
          )}
          {task.runAt && task.status !== 'SCHEDULED' && (
            <div>
              <dt>Next attempt</dt>
              <dd>
                <time dateTime={task.runAt}>{timestamp(task.runAt)}</time>
              </dd>
            </div>
          )}
          {task.uniqueKey && (
            <div>
              <dt>Unique key</dt>
              <dd data-testid="task-unique-key">
                <span className="mono">{task.uniqueKey}</span>{' '}
                <span className="muted small">held {holdText(task.uniqueForSeconds)}</span>
              </dd>
            </div>
          )}
          {task.workflow && (
            <div>
              <dt>Workflow</dt>
              <dd>
                <Link to={workflowHref(task.workflow.id)} data-testid="task-workflow">
                  {task.workflow.name}
                </Link>{' '}
                <WorkflowStatusBadge status={task.workflow.status} />
              </dd>
            </div>
          )}
          {task.stepKey && (
            <div>
              <dt>Step</dt>
              <dd className="mono" data-testid="task-step-key">
                {task.stepKey}
              </dd>
            </div>
          )}
          {task.group && (
            <div>
              <dt>Group</dt>
              <dd>
                <Link to={`/tasks?group=${encodeURIComponent(task.group)}`} className="mono" data-testid="task-group">
                  {task.group}
                </Link>
              </dd>
            </div>
          )}
          {task.traceId && (
            <div>
              <dt>Trace</dt>
              <dd className="mono" data-testid="task-trace" title="Search your tracing backend (Jaeger, Tempo) for this trace id">
                {task.traceId}
              </dd>
            </div>
          )}
          {task.schedule && (
            <div>
              <dt>Schedule</dt>
              <dd>
                <Link to={`/schedules#schedule-${encodeURIComponent(task.schedule)}`} className="mono" data-testid="task-schedule">
                  {task.schedule}
                </Link>
              </dd>
            </div>
          )}
        </dl>
      </div>

      <div className="json-grid">
        <JsonPanel title="Input" value={task.input} />
        <JsonPanel title="Result" value={task.result} empty={done ? 'No result' : 'No result yet'} testId="task-result" />
        <JsonPanel title="Metadata" value={task.metadata} />
      </div>
    </section>
  );
}

function updatedMs(t: TaskDetail): number {
  return Date.parse(t.updatedAt) || 0;
}

/** A titled panel with a JSON value, pretty-printed. */
export function JsonPanel({ title, value, empty = 'None', testId }: { title: string; value: unknown; empty?: string; testId?: string }) {
  const text = value === null || value === undefined ? null : prettyJSON(value);
  return (
    <section className="card json-panel" aria-label={title}>
      <h2>{title}</h2>
      {text === null ? (
        <p className="muted">{empty}</p>
      ) : (
        <pre className="json" tabIndex={0} data-testid={testId}>
          {text}
        </pre>
      )}
    </section>
  );
}
