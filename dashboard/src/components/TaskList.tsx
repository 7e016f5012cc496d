// TaskList: tasks, newest first, with filters, search and cursor pagination.
// The page on screen follows the live feed: rows change in place, and new
// matching tasks are inserted at the top of the first page.

import { memo, useCallback, useEffect, useRef, useState } from 'react';

import { TASK_PRIORITIES, TASK_STATUSES, TERMINAL_STATUSES, type TaskFilter, type TaskPriority, type TaskSummary } from '../service/types';
import { eventsNewerThan, isSubmission, mergeTaskEvents, taskMatchesFilter, type LivePage } from '../state/reducers';
import { useCan } from '../state/session';
import { useDashboard, useService, useStore } from '../state/store';
import { int, label, shortId } from '../lib/format';
import { heldByText } from '../lib/limitForm';
import { Link, navigate, useRoute } from '../lib/router';
import { Ago, Due, Elapsed, Empty, ErrorNote, PriorityBadge, ProgressBar, TaskStatusBadge, taskTone } from './common';
import { workflowHref } from './WorkflowList';
import { TaskBulkBar } from './TaskBulk';
import { FAILED_VIEW, isFailedView, statusesFromQuery } from '../lib/bulk';
import { GroupFilter } from './GroupFilter';

const PAGE_SIZES = [25, 50, 100, 200];
const PAGE_SIZE_KEY = 'archivist.pageSize';

function storedPageSize(): number {
  try {
    const n = Number(localStorage.getItem(PAGE_SIZE_KEY));
    if (PAGE_SIZES.includes(n)) return n;
  } catch {
    // default
  }
  return 50;
}

/** The filter in the page's query string: ?status=FAILED[,TIMED_OUT]&type=echo&priority=HIGH&node=ID&schedule=NAME&workflow=ID&group=NAME&q=text */
export function filterFromQuery(q: URLSearchParams): TaskFilter {
  const priority = q.get('priority');
  return {
    status: statusesFromQuery(q.get('status')),
    type: q.get('type') || undefined,
    priority: priority && (TASK_PRIORITIES as readonly string[]).includes(priority) ? (priority as TaskPriority) : undefined,
    nodeId: q.get('node') || undefined,
    schedule: q.get('schedule') || undefined,
    workflowId: q.get('workflow') || undefined,
    group: q.get('group') || undefined,
    search: q.get('q') || undefined,
  };
}

function queryFromFilter(f: TaskFilter): string {
  const q = new URLSearchParams();
  if (f.status?.length) q.set('status', f.status.join(','));
  if (f.type) q.set('type', f.type);
  if (f.priority) q.set('priority', f.priority);
  if (f.nodeId) q.set('node', f.nodeId);
  if (f.schedule) q.set('schedule', f.schedule);
  if (f.workflowId) q.set('workflow', f.workflowId);
  if (f.group) q.set('group', f.group);
  if (f.search) q.set('q', f.search);
  const s = q.toString();
  return s ? `?${s}` : '';
}

export function TaskList() {
  const service = useService();
  const store = useStore();
  const route = useRoute();
  const filter = filterFromQuery(route.query);
  const filterKey = JSON.stringify(filter);
  const taskTypes = useDashboard((s) => s.taskTypes);
  const nodes = useDashboard((s) => s.nodes);
  const nodeOrder = useDashboard((s) => s.nodeOrder);

  const [pageSize, setPageSize] = useState(storedPageSize);
  // The cursors of the pages walked through: the last one is this page's.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<LivePage | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [paused, setPaused] = useState(false);
  const [waiting, setWaiting] = useState(0);
  const [search, setSearch] = useState(filter.search ?? '');
  const [scheduleText, setScheduleText] = useState(filter.schedule ?? '');

  // The tasks selected for a bulk action (on this page).
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const select = useCallback((id: string, on: boolean) => {
    setSelected((s) => {
      const next = new Set(s);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  }, []);
  const canBulkCancel = useCan('cancelTasks');
  const canBulkRetry = useCan('retryTasks');
  const canBulkDelete = useCan('deleteTasks');
  const canBulk = canBulkCancel || canBulkRetry || canBulkDelete;

  const request = useRef(0);
  const live = useRef({ filter, firstPage: true, pageSize, paused });
  live.current = { filter, firstPage: cursors.length === 1, pageSize, paused };

  // Live events that come while a page loads: the page read may be older
  // than some of them, so they are merged into it when it comes.
  const loadingEvents = useRef<TaskSummary[] | null>(null);

  const load = useCallback(
    async (after: string | null) => {
      const id = ++request.current;
      // Events received before this read but still held back by the
      // batching go to the page on screen now, not into those the read
      // may have missed.
      store.flushTasks();
      loadingEvents.current = [];
      setLoading(true);
      try {
        const p = await service.listTasks(JSON.parse(filterKey) as TaskFilter, pageSize, after);
        if (id !== request.current) return;
        const fresh: LivePage = { ...p, fresh: new Set(), stale: new Set() };
        const missed = eventsNewerThan(fresh, loadingEvents.current ?? []);
        loadingEvents.current = null;
        const { filter: f, firstPage, pageSize: size, paused: ps } = live.current;
        setPage(missed.length > 0 ? mergeTaskEvents(fresh, missed, f, firstPage && !ps, size) : fresh);
        // A reload (after a bulk action, a resynchronisation) keeps the
        // selected tasks that are still listed; a new filter or page lists
        // others, which drops them.
        setSelected((sel) => {
          if (sel.size === 0) return sel;
          const listed = new Set(p.tasks.map((t) => t.id));
          const kept = [...sel].filter((id) => listed.has(id));
          return kept.length === sel.size ? sel : new Set(kept);
        });
        setError(null);
        setWaiting(0);
      } catch (err) {
        if (id === request.current) setError((err as Error).message);
      } finally {
        if (id === request.current) {
          loadingEvents.current = null;
          setLoading(false);
        }
      }
    },
    [service, store, filterKey, pageSize],
  );

  // A new filter or page size starts again from the first page.
  useEffect(() => {
    setCursors([null]);
    void load(null);
  }, [load]);

  const current = cursors[cursors.length - 1];
  const currentRef = useRef(current);
  currentRef.current = current;

  // Live events, batched per animation frame by the service.
  useEffect(
    () =>
      store.onTasks((events) => {
        loadingEvents.current?.push(...events);
        const { filter: f, firstPage, pageSize: size, paused: p } = live.current;
        if (p && firstPage) {
          const n = events.filter((t) => isSubmission(t) && taskMatchesFilter(t, f)).length;
          if (n > 0) setWaiting((w) => w + n);
        }
        setPage((pg) => (pg ? mergeTaskEvents(pg, events, f, firstPage && !p, size) : pg));
      }),
    [store],
  );

  // After a reconnection, load the page on screen again.
  useEffect(() => store.onResync(() => void load(currentRef.current)), [store, load]);

  // Loads the page on screen again with the filter of now: a bulk action
  // calls it when done, and the filter may have changed meanwhile (a search
  // typed before the click applies while the action runs).
  const reloadRef = useRef(() => {});
  reloadRef.current = () => void load(currentRef.current);
  const reload = useCallback(() => reloadRef.current(), []);

  // The search box follows the URL when it changes (links, back and
  // forward)...
  const urlSearch = useRef(filter.search ?? '');
  useEffect(() => {
    const v = filter.search ?? '';
    if (v !== urlSearch.current) {
      urlSearch.current = v;
      setSearch(v);
    }
  }, [filter.search]);

  // ...and updates it after a short pause in typing.
  useEffect(() => {
    if ((filter.search ?? '') === search) return;
    const t = setTimeout(() => setFilter({ ...filter, search: search || undefined }), 300);
    return () => clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [search]);

  // The schedule field, the same way: it follows the URL, and sets it after
  // a pause in typing (a name is matched exactly).
  const urlSchedule = useRef(filter.schedule ?? '');
  useEffect(() => {
    const v = filter.schedule ?? '';
    if (v !== urlSchedule.current) {
      urlSchedule.current = v;
      setScheduleText(v);
    }
  }, [filter.schedule]);
  useEffect(() => {
    if ((filter.schedule ?? '') === scheduleText.trim()) return;
    const t = setTimeout(() => setFilter({ ...filter, schedule: scheduleText.trim() || undefined }), 300);
    return () => clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [scheduleText]);

  function setFilter(f: TaskFilter) {
    navigate(`/tasks${queryFromFilter(f)}`, { replace: true });
  }

  // The filter as typed: a search or schedule name typed less than the
  // pause ago is not in the URL yet, but a bulk action must act on what
  // the fields say.
  const typed: TaskFilter = { ...filter, search: search || undefined, schedule: scheduleText.trim() || undefined };
  const pendingTyping = (typed.search ?? '') !== (filter.search ?? '') || (typed.schedule ?? '') !== (filter.schedule ?? '');
  function applyTyping() {
    if (pendingTyping) setFilter(typed);
  }

  async function older() {
    if (!page?.hasNextPage) return;
    let after = page.endCursor;
    if (after === null) {
      // Every row arrived live: fetch this page for its cursors first.
      const fresh = await service.listTasks(filter, pageSize, current);
      after = fresh.endCursor;
    }
    setCursors((c) => [...c, after]);
    void load(after);
  }

  function newer() {
    if (cursors.length <= 1) return;
    const c = cursors.slice(0, -1);
    setCursors(c);
    void load(c[c.length - 1]);
  }

  const first = (cursors.length - 1) * pageSize;
  const anyFilter = Boolean(filter.status || filter.type || filter.priority || filter.nodeId || filter.schedule || filter.workflowId || filter.group || filter.search);
  const canSubmit = useCan('submitTask');

  return (
    <section aria-labelledby="tasks-title">
      <div className="page-head">
        <h1 id="tasks-title">Tasks</h1>
        {canSubmit && (
          <Link to="/tasks/new" className="btn btn-primary">
            + New task
          </Link>
        )}
      </div>

      <div className="segmented view-tabs" role="group" aria-label="View">
        <button type="button" className={isFailedView(filter) ? '' : 'on'} aria-pressed={!isFailedView(filter)} onClick={() => setFilter({ ...filter, status: undefined })}>
          All tasks
        </button>
        <button
          type="button"
          className={isFailedView(filter) ? 'on' : ''}
          aria-pressed={isFailedView(filter)}
          onClick={() => setFilter({ ...filter, status: [...FAILED_VIEW] })}
          title="FAILED and TIMED_OUT tasks, kept for the failed retention: the dead-letter queue"
          data-testid="failed-view"
        >
          Failed
        </button>
      </div>

      <form className="toolbar filters" role="search" aria-label="Filter tasks" onSubmit={(e) => e.preventDefault()}>
        <label className="field field-inline">
          <span>Search</span>
          <input type="search" name="q" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="id, type or error" />
        </label>
        <label className="field field-inline">
          <span>Status</span>
          <select
            name="status"
            value={filter.status?.join(',') ?? ''}
            onChange={(e) => setFilter({ ...filter, status: statusesFromQuery(e.target.value) })}
          >
            <option value="">Any</option>
            <option value={FAILED_VIEW.join(',')}>Failed or timed out</option>
            {filter.status && filter.status.length > 1 && !isFailedView(filter) && <option value={filter.status.join(',')}>{filter.status.map(label).join(' or ')}</option>}
            {TASK_STATUSES.map((s) => (
              <option key={s} value={s}>
                {label(s)}
              </option>
            ))}
          </select>
        </label>
        <label className="field field-inline">
          <span>Type</span>
          <select name="type" value={filter.type ?? ''} onChange={(e) => setFilter({ ...filter, type: e.target.value || undefined })}>
            <option value="">Any</option>
            {taskTypes.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
            {filter.type && !taskTypes.includes(filter.type) && <option value={filter.type}>{filter.type}</option>}
          </select>
        </label>
        <label className="field field-inline">
          <span>Priority</span>
          <select
            name="priority"
            value={filter.priority ?? ''}
            onChange={(e) => setFilter({ ...filter, priority: (e.target.value || undefined) as TaskPriority | undefined })}
          >
            <option value="">Any</option>
            {TASK_PRIORITIES.map((p) => (
              <option key={p} value={p}>
                {label(p)}
              </option>
            ))}
          </select>
        </label>
        <label className="field field-inline">
          <span>Node</span>
          <select name="node" value={filter.nodeId ?? ''} onChange={(e) => setFilter({ ...filter, nodeId: e.target.value || undefined })}>
            <option value="">Any</option>
            {nodeOrder.map((id) => (
              <option key={id} value={id}>
                {nodes[id].name}
              </option>
            ))}
            {filter.nodeId && !nodes[filter.nodeId] && <option value={filter.nodeId}>{filter.nodeId}</option>}
          </select>
        </label>
        <label className="field field-inline">
          <span>Schedule</span>
          <input
            name="schedule"
            value={scheduleText}
            onChange={(e) => setScheduleText(e.target.value)}
            placeholder="name"
            size={12}
            autoComplete="off"
            spellCheck={false}
          />
        </label>
        <GroupFilter value={filter.group} onChange={(group) => setFilter({ ...filter, group })} />
        {filter.workflowId && (
          <span className="filter-chip" data-testid="workflow-filter">
            Steps of workflow{' '}
            <Link to={workflowHref(filter.workflowId)} className="mono">
              {shortId(filter.workflowId)}
            </Link>
            <button
              type="button"
              className="btn btn-ghost btn-small"
              aria-label="Show the tasks of every workflow"
              onClick={() => setFilter({ ...filter, workflowId: undefined })}
            >
              ×
            </button>
          </span>
        )}
        {anyFilter && (
          <button
            type="button"
            className="btn btn-ghost"
            onClick={() => {
              setSearch('');
              setScheduleText('');
              setFilter({});
            }}
          >
            Clear filters
          </button>
        )}
      </form>

      <div className="list-bar">
        <p className="muted" aria-live="polite" data-testid="task-range">
          {page
            ? page.totalCount === 0
              ? 'No tasks'
              : `${int(Math.min(first + 1, page.totalCount))}–${int(first + page.tasks.length)} of ${int(page.totalCount)}`
            : 'Loading…'}
          {loading && page ? ' · loading…' : ''}
        </p>
        <div className="list-controls">
          {waiting > 0 && (
            <button type="button" className="btn btn-small" onClick={() => void load(null)}>
              Show {int(waiting)} new
            </button>
          )}
          <label className="check">
            <input type="checkbox" checked={!paused} onChange={(e) => setPaused(!e.target.checked)} /> Live
          </label>
          <label className="field field-inline">
            <span>Per page</span>
            <select
              value={pageSize}
              onChange={(e) => {
                const n = Number(e.target.value);
                setPageSize(n);
                try {
                  localStorage.setItem(PAGE_SIZE_KEY, String(n));
                } catch {
                  // not kept
                }
              }}
            >
              {PAGE_SIZES.map((n) => (
                <option key={n}>{n}</option>
              ))}
            </select>
          </label>
        </div>
      </div>

      {canBulk && page && (
        <TaskBulkBar
          filter={typed}
          tasks={page.tasks}
          selected={selected}
          onClear={() => setSelected(new Set())}
          onBegin={applyTyping}
          onDone={reload}
        />
      )}

      {error && <ErrorNote>Could not load tasks: {error}</ErrorNote>}

      <div className="table-wrap">
        <table className="tasks" aria-label="Tasks" aria-busy={loading}>
          <thead>
            <tr>
              {canBulk && (
                <th scope="col" className="select-cell">
                  <input
                    type="checkbox"
                    aria-label="Select every task on this page"
                    checked={!!page && page.tasks.length > 0 && page.tasks.every((t) => selected.has(t.id))}
                    onChange={(e) => setSelected(e.target.checked && page ? new Set(page.tasks.map((t) => t.id)) : new Set())}
                  />
                </th>
              )}
              <th scope="col">Task</th>
              <th scope="col">Type</th>
              <th scope="col" className="hide-md">
                Group
              </th>
              <th scope="col">Status</th>
              <th scope="col" className="hide-sm">
                Priority
              </th>
              <th scope="col" className="hide-sm">
                Progress
              </th>
              <th scope="col" className="hide-md">
                Node
              </th>
              <th scope="col" className="hide-md num">
                Attempts
              </th>
              <th scope="col" className="hide-sm">
                Created
              </th>
              <th scope="col" className="hide-md num">
                Run time
              </th>
            </tr>
          </thead>
          <tbody>
            {page?.tasks.map((t) => (
              <TaskRow
                key={t.id}
                task={t}
                nodeName={t.nodeId ? (nodes[t.nodeId]?.name ?? t.nodeId) : null}
                fresh={page.fresh.has(t.id)}
                stale={page.stale.has(t.id)}
                selected={canBulk ? selected.has(t.id) : undefined}
                onSelect={select}
              />
            ))}
          </tbody>
        </table>
        {page && page.tasks.length === 0 && !loading && (
          <Empty>
            {anyFilter ? 'No task matches these filters.' : 'No tasks yet. '}
            {!anyFilter && canSubmit && <Link to="/tasks/new">Submit one</Link>}
          </Empty>
        )}
      </div>

      <nav className="pager" aria-label="Pages">
        <button type="button" className="btn" onClick={newer} disabled={cursors.length <= 1 || loading}>
          ← Newer
        </button>
        <span className="muted">Page {cursors.length}</span>
        <button type="button" className="btn" onClick={() => void older()} disabled={!page?.hasNextPage || loading}>
          Older →
        </button>
      </nav>
    </section>
  );
}

const TaskRow = memo(function TaskRow({
  task: t,
  nodeName,
  fresh,
  stale,
  selected,
  onSelect,
}: {
  task: TaskSummary;
  nodeName: string | null;
  fresh: boolean;
  stale: boolean;
  /** Whether the row is selected for a bulk action; undefined: no selection column. */
  selected?: boolean;
  onSelect?: (id: string, on: boolean) => void;
}) {
  const running = t.status === 'IN_PROGRESS';
  const done = TERMINAL_STATUSES.has(t.status);
  return (
    <tr className={`${fresh ? 'fresh' : ''}${stale ? ' stale' : ''}`} data-task-id={t.id} data-status={t.status}>
      {selected !== undefined && (
        <td className="select-cell">
          <input type="checkbox" aria-label={`Select ${t.id}`} checked={selected} onChange={(e) => onSelect?.(t.id, e.target.checked)} />
        </td>
      )}
      <td>
        <Link to={`/tasks/${encodeURIComponent(t.id)}`} className="mono" title={t.id}>
          {shortId(t.id)}
        </Link>
      </td>
      <td className="mono">
        {t.type}
        {t.stepKey && t.workflowId && (
          <span className="small">
            {' · '}
            <Link to={workflowHref(t.workflowId)} title="Its step key; opens its workflow" data-testid="task-step-link">
              {t.stepKey}
            </Link>
          </span>
        )}
      </td>
      <td className="hide-md" data-testid="task-group-cell" style={{ maxWidth: '12rem', overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}>
        {t.group ? (
          <Link to={`/tasks?group=${encodeURIComponent(t.group)}`} title="Show this group's tasks">
            {t.group}
          </Link>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td>
        <TaskStatusBadge status={t.status} />
        {t.status === 'SCHEDULED' && t.runAt && (
          <span className="small muted">
            {' '}
            <Due iso={t.runAt} testId="task-due" />
          </span>
        )}
        {t.cancelRequested && !done && <span className="muted small"> cancelling</span>}
        {t.error && (t.status === 'FAILED' || t.status === 'TIMED_OUT') && (
          <span className="small muted error-snippet" title={t.error} data-testid="task-error">
            {' '}
            {t.error.length > 80 ? `${t.error.slice(0, 80)}…` : t.error}
          </span>
        )}
        {t.heldBy && t.status === 'PENDING' && (
          <span className="held-by" data-testid="task-held-by" title={`Not placed: ${heldByText(t.heldBy)}`}>
            held: {t.heldBy}
          </span>
        )}
      </td>
      <td className="hide-sm">
        <PriorityBadge priority={t.priority} />
      </td>
      <td className="hide-sm progress-cell">
        <ProgressBar
          value={t.status === 'COMPLETED' ? 1 : t.progress}
          label={`Progress of ${t.id}`}
          tone={running ? 'info' : taskTone(t.status)}
        />
      </td>
      <td className="hide-md">{nodeName ?? <span className="muted">—</span>}</td>
      <td className="hide-md num">{t.attempts}</td>
      <td className="hide-sm">
        <Ago iso={t.createdAt} />
      </td>
      <td className="hide-md num">
        <Elapsed from={t.startedAt} to={done ? t.completedAt : null} running={!done && t.status === 'IN_PROGRESS'} />
      </td>
    </tr>
  );
});
