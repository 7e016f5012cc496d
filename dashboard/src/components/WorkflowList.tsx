// WorkflowList: workflows, newest first, filtered by status and searched by
// id or name, with cursor pages. Live without polling: each row on screen
// follows its workflow's workflowUpdated feed (status, progress, end), and
// the first page is loaded again (at most once a second) when the task feed
// shows steps of a workflow not on it submitted: a new workflow.

import { memo, useCallback, useEffect, useRef, useState } from 'react';

import { WORKFLOW_STATUSES, type WorkflowFilter, type WorkflowPage, type WorkflowStatus, type WorkflowSummary } from '../service/types';
import { isSubmission } from '../state/reducers';
import { useCan } from '../state/session';
import { useService, useStore } from '../state/store';
import { int, label, shortId } from '../lib/format';
import { Link, navigate, useRoute } from '../lib/router';
import { Ago, Empty, ErrorNote, ProgressBar, WorkflowStatusBadge, workflowTone } from './common';

const PAGE_SIZE = 25;

/** How long, at least, between two loads of the list for new workflows. */
const RELOAD_MS = 1000;

/** The address of a workflow's graph. */
export function workflowHref(id: string): string {
  return `/workflows/${encodeURIComponent(id)}`;
}

/** The filter in the page's query string: ?status=RUNNING&q=text */
export function workflowFilterFromQuery(q: URLSearchParams): WorkflowFilter {
  const status = q.get('status');
  return {
    status: status && (WORKFLOW_STATUSES as readonly string[]).includes(status) ? [status as WorkflowStatus] : undefined,
    search: q.get('q') || undefined,
  };
}

function queryFromFilter(f: WorkflowFilter): string {
  const q = new URLSearchParams();
  if (f.status?.[0]) q.set('status', f.status[0]);
  if (f.search) q.set('q', f.search);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The newer of two states of a workflow (by updatedAt; the second on a tie). */
function newer(a: WorkflowSummary, b: WorkflowSummary): WorkflowSummary {
  return (Date.parse(b.updatedAt) || 0) >= (Date.parse(a.updatedAt) || 0) ? b : a;
}

export function WorkflowList() {
  const service = useService();
  const store = useStore();
  const route = useRoute();
  const filter = workflowFilterFromQuery(route.query);
  const filterKey = JSON.stringify(filter);
  const canSubmit = useCan('submitWorkflow');

  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<WorkflowPage | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [search, setSearch] = useState(filter.search ?? '');

  const request = useRef(0);
  const load = useCallback(
    async (after: string | null) => {
      const id = ++request.current;
      setLoading(true);
      try {
        const p = await service.listWorkflows(JSON.parse(filterKey) as WorkflowFilter, PAGE_SIZE, after);
        if (id !== request.current) return;
        setPage(p);
        setError(null);
      } catch (err) {
        if (id === request.current) setError((err as Error).message);
      } finally {
        if (id === request.current) setLoading(false);
      }
    },
    [service, filterKey],
  );

  useEffect(() => {
    setCursors([null]);
    void load(null);
  }, [load]);

  const current = cursors[cursors.length - 1];
  const currentRef = useRef(current);
  currentRef.current = current;

  // New workflows: their steps show up in the task feed as they are
  // submitted. The first page is loaded again, coalesced.
  const reloadTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const lastReload = useRef(0);
  const shown = useRef(new Set<string>());
  shown.current = new Set(page?.workflows.map((w) => w.id));
  useEffect(() => {
    const stop = store.onTasks((tasks) => {
      if (currentRef.current !== null || reloadTimer.current) return;
      if (!tasks.some((t) => t.workflowId && !shown.current.has(t.workflowId) && isSubmission(t))) return;
      const wait = Math.max(0, lastReload.current + RELOAD_MS - Date.now());
      reloadTimer.current = setTimeout(() => {
        reloadTimer.current = null;
        lastReload.current = Date.now();
        if (currentRef.current === null) void load(null);
      }, wait);
    });
    return () => {
      stop();
      if (reloadTimer.current) clearTimeout(reloadTimer.current);
      reloadTimer.current = null;
    };
  }, [store, load]);

  useEffect(() => store.onResync(() => void load(currentRef.current)), [store, load]);

  // A row's own feed: the workflow's new state replaces the row's.
  const onUpdate = useCallback((w: WorkflowSummary) => {
    setPage((p) => {
      if (!p) return p;
      const i = p.workflows.findIndex((x) => x.id === w.id);
      if (i < 0) return p;
      const next = newer(p.workflows[i], w);
      if (next === p.workflows[i]) return p;
      const workflows = [...p.workflows];
      workflows[i] = next;
      return { ...p, workflows };
    });
  }, []);
  const onRestart = useCallback(() => void load(currentRef.current), [load]);

  // The search box follows the URL when it changes, and sets it after a pause in typing.
  const urlSearch = useRef(filter.search ?? '');
  useEffect(() => {
    const v = filter.search ?? '';
    if (v !== urlSearch.current) {
      urlSearch.current = v;
      setSearch(v);
    }
  }, [filter.search]);
  useEffect(() => {
    if ((filter.search ?? '') === search) return;
    const t = setTimeout(() => setFilter({ ...filter, search: search || undefined }), 300);
    return () => clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [search]);

  function setFilter(f: WorkflowFilter) {
    navigate(`/workflows${queryFromFilter(f)}`, { replace: true });
  }

  function older() {
    if (!page?.hasNextPage || !page.endCursor) return;
    const after = page.endCursor;
    setCursors((c) => [...c, after]);
    void load(after);
  }

  function newerPage() {
    if (cursors.length <= 1) return;
    const c = cursors.slice(0, -1);
    setCursors(c);
    void load(c[c.length - 1]);
  }

  const first = (cursors.length - 1) * PAGE_SIZE;
  const anyFilter = Boolean(filter.status || filter.search);

  return (
    <section aria-labelledby="workflows-title">
      <div className="page-head">
        <h1 id="workflows-title">Workflows</h1>
        {canSubmit && (
          <Link to="/workflows/new" className="btn btn-primary">
            + New workflow
          </Link>
        )}
      </div>
      <p className="muted intro">
        A workflow is a graph of tasks: each step waits (<span className="mono">WAITING</span>) until the steps it depends on
        completed. Open one to see its graph live.
      </p>

      <form className="toolbar filters" role="search" aria-label="Filter workflows" onSubmit={(e) => e.preventDefault()}>
        <label className="field field-inline">
          <span>Search</span>
          <input type="search" name="q" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="id or name" />
        </label>
        <label className="field field-inline">
          <span>Status</span>
          <select
            name="status"
            value={filter.status?.[0] ?? ''}
            onChange={(e) => setFilter({ ...filter, status: e.target.value ? [e.target.value as WorkflowStatus] : undefined })}
          >
            <option value="">Any</option>
            {WORKFLOW_STATUSES.map((s) => (
              <option key={s} value={s}>
                {label(s)}
              </option>
            ))}
          </select>
        </label>
        {anyFilter && (
          <button
            type="button"
            className="btn btn-ghost"
            onClick={() => {
              setSearch('');
              setFilter({});
            }}
          >
            Clear filters
          </button>
        )}
      </form>

      <div className="list-bar">
        <p className="muted" aria-live="polite" data-testid="workflow-range">
          {page
            ? page.totalCount === 0
              ? 'No workflows'
              : `${int(Math.min(first + 1, page.totalCount))}–${int(first + page.workflows.length)} of ${int(page.totalCount)}`
            : 'Loading…'}
          {loading && page ? ' · loading…' : ''}
        </p>
      </div>

      {error && <ErrorNote>Could not load workflows: {error}</ErrorNote>}

      <div className="table-wrap">
        <table className="workflows" aria-label="Workflows" aria-busy={loading}>
          <thead>
            <tr>
              <th scope="col">Workflow</th>
              <th scope="col">Status</th>
              <th scope="col">Progress</th>
              <th scope="col" className="num">
                Steps
              </th>
              <th scope="col" className="hide-sm">
                Created
              </th>
              <th scope="col" className="hide-md">
                Completed
              </th>
            </tr>
          </thead>
          <tbody>
            {page?.workflows.map((w) => (
              <WorkflowRow key={w.id} workflow={w} onUpdate={onUpdate} onRestart={onRestart} />
            ))}
          </tbody>
        </table>
        {page && page.workflows.length === 0 && !loading && (
          <Empty>
            {anyFilter ? 'No workflow matches these filters.' : 'No workflows yet. '}
            {!anyFilter && canSubmit && <Link to="/workflows/new">Submit one</Link>}
          </Empty>
        )}
      </div>

      <nav className="pager" aria-label="Pages">
        <button type="button" className="btn" onClick={newerPage} disabled={cursors.length <= 1 || loading}>
          ← Newer
        </button>
        <span className="muted">Page {cursors.length}</span>
        <button type="button" className="btn" onClick={older} disabled={!page?.hasNextPage || loading}>
          Older →
        </button>
      </nav>
    </section>
  );
}

const WorkflowRow = memo(function WorkflowRow({
  workflow: w,
  onUpdate,
  onRestart,
}: {
  workflow: WorkflowSummary;
  onUpdate: (w: WorkflowSummary) => void;
  onRestart: () => void;
}) {
  const service = useService();
  // Each row follows its workflow while it is on screen (a finished one
  // too: it may be retried elsewhere).
  useEffect(() => service.watchWorkflow(w.id, onUpdate, onRestart), [service, w.id, onUpdate, onRestart]);
  const pct = Math.round(Math.min(1, Math.max(0, w.progress)) * 100);
  return (
    <tr data-workflow-id={w.id} data-status={w.status}>
      <td>
        <Link to={workflowHref(w.id)} title={w.id} data-testid="workflow-link">
          {w.name}
        </Link>{' '}
        <span className="muted mono small hide-sm">{shortId(w.id)}</span>
      </td>
      <td>
        <WorkflowStatusBadge status={w.status} />
      </td>
      <td className="progress-cell">
        <div className="wf-progress">
          <ProgressBar value={w.progress} label={`Progress of ${w.name}`} tone={workflowTone(w.status)} />
          <span className="small muted" data-testid="workflow-progress">
            {pct}%
          </span>
        </div>
      </td>
      <td className="num">{int(w.stepCount)}</td>
      <td className="hide-sm">
        <Ago iso={w.createdAt} />
      </td>
      <td className="hide-md">{w.completedAt ? <Ago iso={w.completedAt} /> : <span className="muted">—</span>}</td>
    </tr>
  );
});
