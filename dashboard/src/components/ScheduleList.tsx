// ScheduleList: every schedule, live (the schedules query at load and after
// a reconnection, then scheduleUpdated events): how often it ticks, what it
// submits, its overlap policy, its next and last run with the last task;
// with an operator key, pause or resume, run now, edit and delete.

import { useCallback, useEffect, useRef, useState } from 'react';

import type { Schedule, TaskStatus, TaskSummary } from '../service/types';
import { applyScheduleEvents } from '../state/reducers';
import { useCan } from '../state/session';
import { useService, useStore } from '../state/store';
import { label, shortId } from '../lib/format';
import { Link } from '../lib/router';
import { cadence, MISFIRE_HELP, OVERLAP_HELP } from '../lib/scheduleForm';
import { ActionButton, Ago, Due, Empty, ErrorNote, PriorityBadge, TaskStatusBadge } from './common';

/** The address of a schedule's row in the list (the task page links there). */
export function scheduleHref(name: string): string {
  return `/schedules#schedule-${encodeURIComponent(name)}`;
}

/** The address of the tasks a schedule submitted. */
export function scheduleTasksHref(name: string): string {
  return `/tasks?schedule=${encodeURIComponent(name)}`;
}

/** The list with each last task's status as the task feed last told it (the same list when none differs). */
function withTaskStatus(list: Schedule[], seen: ReadonlyMap<string, TaskStatus>): Schedule[] {
  let changed = false;
  const next = list.map((s) => {
    const status = s.lastTask ? seen.get(s.lastTask.id) : undefined;
    if (!s.lastTask || !status || status === s.lastTask.status) return s;
    changed = true;
    return { ...s, lastTask: { ...s.lastTask, status } };
  });
  return changed ? next : list;
}

export function ScheduleList() {
  const service = useService();
  const store = useStore();
  const canCreate = useCan('createSchedule');
  const canPause = useCan('pauseSchedule');
  const canResume = useCan('resumeSchedule');
  const canTrigger = useCan('triggerSchedule');
  const canEdit = useCan('updateSchedule');
  const canDelete = useCan('deleteSchedule');
  const anyAction = canPause || canResume || canTrigger || canEdit || canDelete;

  const [list, setListState] = useState<Schedule[] | null>(null);
  // The list as last set, for event batches to apply on (the state updates later).
  const listRef = useRef<Schedule[] | null>(null);
  const setList = useCallback((next: Schedule[] | null | ((cur: Schedule[] | null) => Schedule[] | null)) => {
    const l = typeof next === 'function' ? next(listRef.current) : next;
    listRef.current = l ? withTaskStatus(l, taskStatus.current) : l;
    setListState(listRef.current);
  }, []);
  const [error, setError] = useState<string | null>(null);
  const [triggered, setTriggered] = useState<{ name: string; task: TaskSummary } | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [deletedNote, setDeletedNote] = useState<string | null>(null);

  // The latest status of the tasks the feed showed, by id (the last 1000).
  const taskStatus = useRef(new Map<string, TaskStatus>());
  // Events that arrive while the list loads are applied on top of it.
  const duringLoad = useRef<Schedule[] | null>(null);
  const request = useRef(0);
  // Schedules deleted from this page, with their last updatedAt: the echo
  // of the deletion (the last state, once more) must not bring them back.
  const deleted = useRef(new Map<string, number>());
  const gone = useCallback((s: Schedule) => {
    const at = deleted.current.get(s.name);
    if (at === undefined) return false;
    if ((Date.parse(s.updatedAt) || 0) > at) {
      deleted.current.delete(s.name); // created again
      return false;
    }
    return true;
  }, []);

  const recheck = useCallback(
    (names: string[]) => {
      for (const name of names) {
        service
          .getSchedule(name)
          .then((s) => setList((cur) => (cur ? (s ? cur.map((x) => (x.name === name ? s : x)) : cur.filter((x) => x.name !== name)) : cur)))
          .catch(() => {
            // The next resynchronisation loads the list again.
          });
      }
    },
    [service, setList],
  );

  const load = useCallback(async () => {
    const id = ++request.current;
    duringLoad.current = [];
    try {
      const fresh = await service.listSchedules();
      if (id !== request.current) return;
      const r = applyScheduleEvents(fresh.filter((s) => !gone(s)), duringLoad.current ?? [], gone);
      setList(r.list);
      setError(null);
      recheck(r.recheck);
    } catch (err) {
      if (id === request.current) setError((err as Error).message);
    } finally {
      if (id === request.current) duringLoad.current = null;
    }
  }, [service, gone, recheck, setList]);

  useEffect(() => {
    void load();
  }, [load]);

  // Live: scheduleUpdated while this view is open; the feed opened again
  // (events missed) or a reconnection loads the list again.
  useEffect(
    () =>
      service.watchSchedules(
        (events) => {
          duringLoad.current?.push(...events);
          if (!listRef.current) return;
          const r = applyScheduleEvents(listRef.current, events, gone);
          setList(r.list);
          recheck(r.recheck);
        },
        () => void load(),
      ),
    [service, load, gone, recheck, setList],
  );
  useEffect(() => store.onResync(() => void load()), [store, load]);

  // The status of each last task (and of the one Run now submitted) follows
  // the task feed: a schedule's own events stop at the tick, and may come
  // after the task's (an echo is done before its tick's event is out).
  useEffect(
    () =>
      store.onTasks((tasks) => {
        const seen = taskStatus.current;
        for (const t of tasks) {
          seen.delete(t.id);
          seen.set(t.id, t.status);
        }
        while (seen.size > 1000) seen.delete(seen.keys().next().value as string);
        if (listRef.current) {
          const next = withTaskStatus(listRef.current, seen);
          if (next !== listRef.current) setList(next);
        }
        const byId = new Map(tasks.map((t) => [t.id, t]));
        setTriggered((tr) => {
          const t = tr ? byId.get(tr.task.id) : undefined;
          return tr && t ? { ...tr, task: t } : tr;
        });
      }),
    [store, setList],
  );

  /** Takes a mutation's answer (its event follows, and may come first). */
  const take = (s: Schedule) => setList((cur) => (cur ? applyScheduleEvents(cur, [s], gone).list : cur));

  async function remove(name: string) {
    const cur = list?.find((s) => s.name === name);
    await service.deleteSchedule(name);
    deleted.current.set(name, cur ? Date.parse(cur.updatedAt) || 0 : Number.MAX_SAFE_INTEGER);
    setList((l) => (l ? l.filter((s) => s.name !== name) : l));
    setConfirming(null);
    setDeletedNote(name);
    if (triggered?.name === name) setTriggered(null);
  }

  return (
    <section aria-labelledby="schedules-title">
      <div className="page-head">
        <h1 id="schedules-title">Schedules</h1>
        {canCreate && (
          <Link to="/schedules/new" className="btn btn-primary">
            + New schedule
          </Link>
        )}
      </div>
      <p className="muted intro">
        Each schedule submits a task at every tick of its cron expression or interval. The leader fires the ticks; a
        paused schedule fires none until resumed.
      </p>

      {triggered && (
        <div className="note note-ok" role="status" data-testid="trigger-result">
          <span className="mono">{triggered.name}</span> submitted task{' '}
          <Link to={`/tasks/${encodeURIComponent(triggered.task.id)}`} className="mono" data-testid="trigger-task-link">
            {triggered.task.id}
          </Link>{' '}
          <TaskStatusBadge status={triggered.task.status} />
        </div>
      )}
      {deletedNote && (
        <div className="note note-info" role="status" data-testid="delete-result">
          Deleted the schedule <span className="mono">{deletedNote}</span>; the tasks it submitted stay.
        </div>
      )}
      {error && <ErrorNote>Could not load the schedules: {error}</ErrorNote>}

      <div className="table-wrap">
        <table className="schedules" aria-label="Schedules" aria-busy={list === null}>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">When</th>
              <th scope="col">Task</th>
              <th scope="col" className="hide-md">
                Overlap
              </th>
              <th scope="col">Next run</th>
              <th scope="col" className="hide-sm">
                Last run
              </th>
              <th scope="col">State</th>
              {anyAction && (
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {list?.map((s) => (
              <tr
                key={s.name}
                id={`schedule-${s.name}`}
                tabIndex={-1}
                data-schedule-name={s.name}
                data-paused={s.paused ? 'true' : 'false'}
              >
                <td className="nowrap">
                  <Link to={scheduleTasksHref(s.name)} className="mono" title={`The tasks ${s.name} submitted`} data-testid="schedule-tasks-link">
                    {s.name}
                  </Link>
                </td>
                <td className="mono small" data-testid="schedule-cadence">
                  {cadence(s)}
                </td>
                <td>
                  <span className="mono">{s.task.type}</span>
                  {s.task.priority !== 'NORMAL' && (
                    <>
                      {' '}
                      <PriorityBadge priority={s.task.priority} />
                    </>
                  )}
                </td>
                <td className="hide-md small" title={`${OVERLAP_HELP[s.overlap]} Missed ticks: ${MISFIRE_HELP[s.misfire]}`} data-testid="schedule-overlap">
                  {label(s.overlap)}
                </td>
                <td data-testid="schedule-next">{s.paused ? <span className="muted">paused</span> : <Due iso={s.nextRunAt} />}</td>
                <td className="hide-sm" data-testid="schedule-last">
                  {s.lastRunAt ? (
                    <>
                      <Ago iso={s.lastRunAt} />
                      {s.lastTask && (
                        <>
                          {' · '}
                          <Link to={`/tasks/${encodeURIComponent(s.lastTask.id)}`} className="mono" title={s.lastTask.id} data-testid="schedule-last-task">
                            {shortId(s.lastTask.id)}
                          </Link>{' '}
                          <TaskStatusBadge status={s.lastTask.status} />
                        </>
                      )}
                    </>
                  ) : (
                    <span className="muted">never</span>
                  )}
                </td>
                <td>
                  {s.paused ? (
                    <span className="badge tone-warn" data-testid="schedule-paused">
                      Paused
                    </span>
                  ) : (
                    <span className="badge tone-ok">Active</span>
                  )}
                </td>
                {anyAction && (
                  <td className="row-actions">
                    {confirming === s.name ? (
                      <div className="confirm" role="group" aria-label={`Delete ${s.name}?`} data-testid="delete-confirm">
                        <span>
                          Delete the schedule <strong className="mono">{s.name}</strong>? Its tasks stay.
                        </span>
                        <ActionButton className="btn-danger btn-small" onRun={() => remove(s.name)} busyLabel="Deleting…">
                          Yes, delete
                        </ActionButton>
                        <button type="button" className="btn btn-small" onClick={() => setConfirming(null)}>
                          Keep it
                        </button>
                      </div>
                    ) : (
                      <>
                        {s.paused
                          ? canResume && (
                              <ActionButton className="btn-small" onRun={async () => take(await service.resumeSchedule(s.name))} busyLabel="Resuming…">
                                Resume
                              </ActionButton>
                            )
                          : canPause && (
                              <ActionButton className="btn-small" onRun={async () => take(await service.pauseSchedule(s.name))} busyLabel="Pausing…">
                                Pause
                              </ActionButton>
                            )}
                        {canTrigger && (
                          <ActionButton
                            className="btn-small"
                            onRun={async () => setTriggered({ name: s.name, task: await service.triggerSchedule(s.name) })}
                            busyLabel="Submitting…"
                            title="Submit the schedule's task now; the next tick stays as it is"
                          >
                            Run now
                          </ActionButton>
                        )}
                        {canEdit && (
                          <Link to={`/schedules/edit?name=${encodeURIComponent(s.name)}`} className="btn btn-small">
                            Edit
                          </Link>
                        )}
                        {canDelete && (
                          <button
                            type="button"
                            className="btn btn-small btn-danger"
                            onClick={() => {
                              setConfirming(s.name);
                              setDeletedNote(null);
                            }}
                          >
                            Delete
                          </button>
                        )}
                      </>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
        {list && list.length === 0 && (
          <Empty>
            No schedules yet.{' '}
            {canCreate && <Link to="/schedules/new">Create one</Link>}
          </Empty>
        )}
        {list === null && !error && <p className="muted">Loading…</p>}
      </div>
    </section>
  );
}
