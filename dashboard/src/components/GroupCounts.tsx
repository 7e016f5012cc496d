// GroupCounts: the busiest groups (SubmitTaskInput.group, typically
// campaigns) with their tasks by status, on the overview. It reads
// taskGroups once, then again at most every two seconds while grouped tasks
// change (the live feed says when), and after a reconnection.

import { useEffect, useRef, useState } from 'react';

import type { TaskGroup } from '../service/types';
import { useService, useStore } from '../state/store';
import { groupRow } from '../lib/group';
import { int } from '../lib/format';
import { Link } from '../lib/router';
import { Empty, ErrorNote } from './common';

/** How many groups the card lists. */
const SHOWN = 10;
/** The shortest time between two reads while tasks change. */
const REFRESH_MS = 2000;

export function GroupCounts() {
  const service = useService();
  const store = useStore();
  const [groups, setGroups] = useState<TaskGroup[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const dirty = useRef(true);

  useEffect(() => {
    let stopped = false;
    let busy = false;
    async function read() {
      if (!dirty.current || busy) return;
      dirty.current = false;
      busy = true;
      try {
        const g = await service.taskGroups(SHOWN);
        if (!stopped) {
          setGroups(g);
          setError(null);
        }
      } catch (err) {
        if (!stopped) setError((err as Error).message);
      } finally {
        busy = false;
      }
    }
    void read();
    const timer = setInterval(() => void read(), REFRESH_MS);
    const offTasks = store.onTasks((tasks) => {
      if (tasks.some((t) => t.group)) dirty.current = true;
    });
    const offResync = store.onResync(() => {
      dirty.current = true;
      void read();
    });
    return () => {
      stopped = true;
      clearInterval(timer);
      offTasks();
      offResync();
    };
  }, [service, store]);

  return (
    <section className="card" aria-labelledby="groups-title" data-testid="group-counts">
      <h2 id="groups-title">
        Tasks by group <span className="muted small">busiest first</span>
      </h2>
      {error && <ErrorNote>Could not load the groups: {error}</ErrorNote>}
      {groups && groups.length === 0 && <Empty>No task has a group yet (submit one with a group, such as its campaign).</Empty>}
      {groups && groups.length > 0 && (
        <div className="table-wrap">
          <table className="groups" aria-label="Tasks by group">
            <thead>
              <tr>
                <th scope="col">Group</th>
                <th scope="col" className="num">
                  Unfinished
                </th>
                <th scope="col" className="num">
                  Waiting
                </th>
                <th scope="col" className="num">
                  Running
                </th>
                <th scope="col" className="num hide-sm">
                  Completed
                </th>
                <th scope="col" className="num">
                  Failed
                </th>
                <th scope="col" className="num hide-sm">
                  Cancelled
                </th>
                <th scope="col" className="num hide-sm">
                  Total
                </th>
              </tr>
            </thead>
            <tbody>
              {groups.map(groupRow).map((r) => (
                <tr key={r.group} data-group={r.group}>
                  <td>
                    <Link to={`/tasks?group=${encodeURIComponent(r.group)}`}>{r.group}</Link>
                  </td>
                  <td className="num" data-testid="group-unfinished">
                    {int(r.unfinished)}
                  </td>
                  <td className="num">{int(r.waiting)}</td>
                  <td className="num">{int(r.running)}</td>
                  <td className="num hide-sm">{int(r.completed)}</td>
                  <td className="num">
                    {r.failed > 0 ? <Link to={`/tasks?group=${encodeURIComponent(r.group)}&status=FAILED`}>{int(r.failed)}</Link> : 0}
                  </td>
                  <td className="num hide-sm">{int(r.cancelled)}</td>
                  <td className="num hide-sm" data-testid="group-total">
                    {int(r.total)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
