import { describe, expect, it } from 'vitest';

import type { Alert, Schedule, TaskStatus, TaskSummary, Workflow } from '../service/types';
import {
  ClockOffset,
  MAX_RESOLVED_ALERTS,
  OFFLINE_SLACK_MS,
  applyAlertEvents,
  applyScheduleEvents,
  applyStepTasks,
  compareTimes,
  eventsNewerThan,
  firingSummary,
  effectiveNodeStatus,
  isSubmission,
  mergeTaskEvents,
  pushHealthSample,
  taskMatchesFilter,
  type LivePage,
} from './reducers';

const T0 = Date.parse('2026-01-01T12:00:00Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();

function task(id: string, status: TaskStatus, over: Partial<TaskSummary> = {}): TaskSummary {
  const created = over.createdAt ?? iso(0);
  return {
    id,
    type: 'echo',
    status,
    priority: 'NORMAL',
    error: null,
    attempts: status === 'PENDING' ? 0 : 1,
    failures: 0,
    maxRetries: 3,
    timeoutSeconds: 300,
    progress: 0,
    progressMessage: null,
    nodeId: status === 'PENDING' ? null : 'n1',
    cancelRequested: false,
    createdAt: created,
    updatedAt: status === 'PENDING' ? created : iso(10),
    assignedAt: null,
    startedAt: null,
    completedAt: null,
    runAt: null,
    uniqueKey: null,
    schedule: null,
    workflowId: null,
    stepKey: null,
    ...over,
  };
}

function page(tasks: TaskSummary[], extra: Partial<LivePage> = {}): LivePage {
  return {
    tasks,
    cursors: Object.fromEntries(tasks.map((t, i) => [t.id, String(100 - i)])),
    hasNextPage: false,
    endCursor: tasks.length ? String(100 - tasks.length + 1) : null,
    totalCount: tasks.length,
    fresh: new Set(),
    stale: new Set(),
    ...extra,
  };
}

describe('effectiveNodeStatus', () => {
  const cfg = { heartbeatIntervalMs: 1000, missedHeartbeats: 3 };
  it('turns a silent node OFFLINE after missed heartbeats', () => {
    const n = { status: 'ONLINE' as const, lastHeartbeat: iso(0) };
    expect(effectiveNodeStatus(n, T0 + 3000 + OFFLINE_SLACK_MS, cfg)).toBe('ONLINE');
    expect(effectiveNodeStatus(n, T0 + 3001 + OFFLINE_SLACK_MS, cfg)).toBe('OFFLINE');
    expect(effectiveNodeStatus({ ...n, status: 'DRAINING' }, T0 + 100, cfg)).toBe('DRAINING');
  });
});

describe('ClockOffset', () => {
  it('takes the smallest recent delay', () => {
    const c = new ClockOffset(3);
    expect(c.value).toBe(0);
    c.add(T0 + 500, iso(0));
    c.add(T0 + 1200, iso(1000));
    expect(c.value).toBe(200);
  });
});

describe('taskMatchesFilter', () => {
  it('applies every field, search on id, type and error', () => {
    const t = task('06abc', 'FAILED', { type: 'dice.simulate', error: 'bad Expression' });
    expect(taskMatchesFilter(t, {})).toBe(true);
    expect(taskMatchesFilter(t, { status: ['FAILED', 'TIMED_OUT'] })).toBe(true);
    expect(taskMatchesFilter(t, { status: ['COMPLETED'] })).toBe(false);
    expect(taskMatchesFilter(t, { type: 'echo' })).toBe(false);
    expect(taskMatchesFilter(t, { search: 'expression' })).toBe(true);
    expect(taskMatchesFilter(t, { search: '06AB' })).toBe(true);
    expect(taskMatchesFilter(t, { nodeId: 'n2' })).toBe(false);
  });

  it('searches the text as given, spaces included, as the server does', () => {
    const t = task('06abc', 'FAILED', { type: 'dice.simulate', error: 'bad Expression' });
    expect(taskMatchesFilter(t, { search: ' expression' })).toBe(true);
    expect(taskMatchesFilter(t, { search: 'expression ' })).toBe(false);
    expect(taskMatchesFilter(t, { search: ' dice' })).toBe(false);
  });

  it('matches a group by equality', () => {
    const t = task('g1', 'PENDING', { group: 'campaign-42' });
    expect(taskMatchesFilter(t, { group: 'campaign-42' })).toBe(true);
    expect(taskMatchesFilter(t, { group: 'campaign-4' })).toBe(false);
    expect(taskMatchesFilter(task('g2', 'PENDING'), { group: 'campaign-42' })).toBe(false);
  });

  it('matches a schedule by equality, as TaskFilter.Matches does', () => {
    const t = task('s1', 'COMPLETED', { schedule: 'nightly-index' });
    expect(taskMatchesFilter(t, { schedule: 'nightly-index' })).toBe(true);
    expect(taskMatchesFilter(t, { schedule: 'nightly' })).toBe(false);
    expect(taskMatchesFilter(task('s2', 'COMPLETED'), { schedule: 'nightly-index' })).toBe(false);
    // The search does not look at the schedule's name.
    expect(taskMatchesFilter(t, { search: 'nightly' })).toBe(false);
  });
});

describe('mergeTaskEvents', () => {
  const older = [task('c', 'COMPLETED', { createdAt: iso(-1000) }), task('b', 'PENDING', { createdAt: iso(-2000) })];

  it('updates rows in place and inserts new submissions on top', () => {
    const p = page(older);
    const next = mergeTaskEvents(p, [task('n', 'PENDING', { createdAt: iso(5) }), task('b', 'ASSIGNED', { createdAt: iso(-2000) })], {}, true, 50);
    expect(next.tasks.map((t) => t.id)).toEqual(['n', 'c', 'b']);
    expect(next.tasks[2].status).toBe('ASSIGNED');
    expect(next.totalCount).toBe(3);
    expect([...next.fresh]).toEqual(['n']);
  });

  it('keeps the page size and the cursor of the last known row', () => {
    const p = page(older, { totalCount: 10, hasNextPage: true });
    const next = mergeTaskEvents(p, [task('n', 'PENDING', { createdAt: iso(5) })], {}, true, 2);
    expect(next.tasks.map((t) => t.id)).toEqual(['n', 'c']);
    expect(next.hasNextPage).toBe(true);
    expect(next.endCursor).toBe(p.cursors.c);
    expect(next.totalCount).toBe(11);
  });

  it('inserts a task submitted to run later (SCHEDULED) on top', () => {
    const p = page(older);
    const at = iso(5);
    const later = task('d', 'SCHEDULED', { createdAt: at, updatedAt: at, attempts: 0, nodeId: null, runAt: iso(60000) });
    const next = mergeTaskEvents(p, [later], { status: ['SCHEDULED'] }, true, 50);
    expect(next.tasks.map((t) => t.id)).toEqual(['d', 'c', 'b']);
    expect([...next.fresh]).toEqual(['d']);
  });

  it('inserts nothing on later pages, or when not matching', () => {
    const p = page(older);
    expect(mergeTaskEvents(p, [task('n', 'PENDING')], {}, false, 50)).toBe(p);
    expect(mergeTaskEvents(p, [task('n', 'PENDING')], { type: 'sleep' }, true, 50)).toBe(p);
  });

  it('does not insert a task of unknown place without a changing filter', () => {
    // Same creation time as rows of the page: the server's order cannot be told.
    const p = page(older, { hasNextPage: true });
    const next = mergeTaskEvents(p, [task('z', 'COMPLETED', { createdAt: iso(-1000) })], {}, true, 2);
    expect(next).toBe(p);
  });

  it('inserts a task that comes to match a status filter, at its place', () => {
    const failedOlder = [task('f2', 'FAILED', { createdAt: iso(-500) }), task('f1', 'FAILED', { createdAt: iso(-3000) })];
    const p = page(failedOlder, { hasNextPage: true });
    const next = mergeTaskEvents(p, [task('m', 'FAILED', { createdAt: iso(-1000) })], { status: ['FAILED'] }, true, 50);
    expect(next.tasks.map((t) => t.id)).toEqual(['f2', 'm', 'f1']);
    expect(next.totalCount).toBe(3);
  });

  it('marks a row that stops matching as stale, and counts it out', () => {
    const p = page([task('a', 'PENDING')]);
    const next = mergeTaskEvents(p, [task('a', 'ASSIGNED')], { status: ['PENDING'] }, true, 50);
    expect(next.stale.has('a')).toBe(true);
    expect(next.totalCount).toBe(0);
    const back = mergeTaskEvents(next, [task('a', 'PENDING', { attempts: 1, updatedAt: iso(30) })], { status: ['PENDING'] }, true, 50);
    expect(back.stale.has('a')).toBe(false);
    expect(back.totalCount).toBe(1);
  });
});

describe('pushHealthSample', () => {
  it('appends new samples only, up to its length', () => {
    const node = (cpu: number, at: string) =>
      ({ health: { cpuPercent: cpu, memoryPercent: 1, load1: 0.5, load5: 0, load15: 0, sampledAt: at }, lastHeartbeat: at }) as never;
    let h = pushHealthSample(undefined, node(10, iso(0)), 2);
    h = pushHealthSample(h, node(10, iso(0)), 2);
    expect(h.cpu).toEqual([10]);
    h = pushHealthSample(h, node(20, iso(1000)), 2);
    h = pushHealthSample(h, node(30, iso(2000)), 2);
    expect(h.cpu).toEqual([20, 30]);
  });
});

function alert(id: string, over: Partial<Alert> = {}): Alert {
  const [rule, subject] = id.split(':');
  return {
    id,
    rule,
    subject,
    severity: 'critical',
    status: 'FIRING',
    message: `${id} fires`,
    value: 1,
    startedAt: iso(0),
    resolvedAt: null,
    ...over,
  };
}

describe('applyAlertEvents', () => {
  it('lists firing alerts first, critical before warning, then resolved ones, latest first', () => {
    const list = applyAlertEvents(
      [],
      [
        alert('node_offline:n1', { status: 'RESOLVED', startedAt: iso(0), resolvedAt: iso(5000) }),
        alert('pending_too_old:cluster', { severity: 'warning', startedAt: iso(9000) }),
        alert('node_offline:n2', { startedAt: iso(1000) }),
        alert('node_offline:n3', { startedAt: iso(2000) }),
        alert('node_busy:n4', { severity: 'warning', status: 'RESOLVED', startedAt: iso(0), resolvedAt: iso(7000) }),
      ],
    );
    expect(list.map((a) => a.id)).toEqual([
      'node_offline:n3',
      'node_offline:n2',
      'pending_too_old:cluster',
      'node_busy:n4',
      'node_offline:n1',
    ]);
    expect(firingSummary(list)).toEqual({ firing: 3, critical: 2 });
  });

  it('resolves a firing alert in place, and keeps a new firing of it apart', () => {
    let list = applyAlertEvents([], [alert('node_offline:n3')]);
    list = applyAlertEvents(list, [alert('node_offline:n3', { status: 'RESOLVED', resolvedAt: iso(3000), message: 'gone' })]);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ status: 'RESOLVED', message: 'gone' });
    expect(firingSummary(list).firing).toBe(0);
    // It fires again: a second occurrence, with the same id.
    list = applyAlertEvents(list, [alert('node_offline:n3', { startedAt: iso(9000) })]);
    expect(list.map((a) => a.status)).toEqual(['FIRING', 'RESOLVED']);
  });

  it('treats a resolution as final: a stale FIRING state does not bring it back', () => {
    const resolved = alert('node_offline:n3', { status: 'RESOLVED', resolvedAt: iso(3000) });
    const list = applyAlertEvents([resolved], [alert('node_offline:n3')]);
    expect(list).toEqual([resolved]);
  });

  it('keeps at most MAX_RESOLVED_ALERTS resolved ones, and every firing one', () => {
    const events: Alert[] = [];
    for (let i = 0; i < MAX_RESOLVED_ALERTS + 10; i++) {
      events.push(alert(`node_offline:r${i}`, { status: 'RESOLVED', resolvedAt: iso(i * 1000) }));
    }
    events.push(alert('node_offline:f1'));
    const list = applyAlertEvents([], events);
    expect(list).toHaveLength(MAX_RESOLVED_ALERTS + 1);
    expect(list[0].id).toBe('node_offline:f1');
    expect(list[1].id).toBe(`node_offline:r${MAX_RESOLVED_ALERTS + 9}`);
  });

  it('returns the same list for no events', () => {
    const list = [alert('node_offline:n1')];
    expect(applyAlertEvents(list, [])).toBe(list);
  });
});

describe('applyScheduleEvents', () => {
  function sched(name: string, updatedMs: number, over: Partial<Schedule> = {}): Schedule {
    return {
      name,
      cron: null,
      every: '2s',
      timezone: null,
      task: {
        type: 'echo',
        input: null,
        priority: 'NORMAL',
        timeoutSeconds: 300,
        maxRetries: 3,
        metadata: null,
        retryBackoffMs: null,
        maxBackoffMs: null,
        uniqueKey: null,
        uniqueForSeconds: 0,
        onDuplicate: null,
      },
      overlap: 'ALLOW',
      misfire: 'RUN_ONCE',
      paused: false,
      nextRunAt: iso(updatedMs + 2000),
      lastRunAt: null,
      lastTask: null,
      createdAt: iso(0),
      updatedAt: iso(updatedMs),
      ...over,
    };
  }

  it('takes the latest state, adds new schedules in name order, drops stale events', () => {
    const list = [sched('b', 10), sched('d', 10)];
    const r = applyScheduleEvents(list, [sched('d', 20, { paused: true }), sched('a', 5), sched('b', 5, { paused: true })]);
    expect(r.list.map((s) => s.name)).toEqual(['a', 'b', 'd']);
    expect(r.list[2].paused).toBe(true);
    expect(r.list[1].paused).toBe(false); // the older event of b is stale
    expect(r.recheck).toEqual([]);
  });

  it('asks to recheck a schedule whose event is no newer than what is shown: it may be deleted', () => {
    const list = [sched('nightly', 10)];
    const r = applyScheduleEvents(list, [sched('nightly', 10)]);
    expect(r.list).toBe(list);
    expect(r.recheck).toEqual(['nightly']);
    // A newer event in the same batch settles it.
    expect(applyScheduleEvents(list, [sched('nightly', 10), sched('nightly', 30)]).recheck).toEqual([]);
  });

  it('drops the echo of a schedule the page deleted', () => {
    const r = applyScheduleEvents([], [sched('gone', 10)], (s) => s.name === 'gone');
    expect(r.list).toEqual([]);
  });
});

describe('workflow steps in the task feed', () => {
  function wf(...tasks: TaskSummary[]): Workflow {
    return {
      id: 'w1',
      name: 'pipeline',
      status: 'RUNNING',
      onFailure: 'FAIL_FAST',
      progress: 0,
      stepCount: tasks.length,
      error: null,
      metadata: null,
      createdAt: iso(0),
      updatedAt: iso(0),
      completedAt: null,
      steps: tasks.map((t, i) => ({ key: `s${i}`, dependsOn: i > 0 ? [`s${i - 1}`] : [], addedBy: null, task: t })),
    };
  }

  it('takes the newer state of a step and leaves the others', () => {
    const a = task('a', 'IN_PROGRESS', { stepKey: 's0', updatedAt: iso(10) });
    const b = task('b', 'WAITING', { stepKey: 's1', attempts: 0, updatedAt: iso(0) });
    const w = wf(a, b);
    const next = applyStepTasks(w, [task('a', 'COMPLETED', { stepKey: 's0', updatedAt: iso(20) }), task('zz', 'COMPLETED')]);
    expect(next.steps[0].task!.status).toBe('COMPLETED');
    expect(next.steps[1]).toBe(w.steps[1]);
  });

  it('keeps the same workflow for events that are older or not its own', () => {
    const w = wf(task('a', 'COMPLETED', { stepKey: 's0', updatedAt: iso(30) }));
    expect(applyStepTasks(w, [task('a', 'IN_PROGRESS', { stepKey: 's0', updatedAt: iso(20) })])).toBe(w);
    expect(applyStepTasks(w, [task('other', 'FAILED')])).toBe(w);
  });

  it('a WAITING step just submitted is a submission', () => {
    expect(isSubmission(task('w', 'WAITING', { attempts: 0, stepKey: 'a', updatedAt: iso(0) }))).toBe(true);
  });

  it('with a workflow filter, only its steps match; its new steps go to the top', () => {
    const f = { workflowId: 'w1' };
    expect(taskMatchesFilter(task('t', 'PENDING'), f)).toBe(false);
    expect(taskMatchesFilter(task('t', 'PENDING', { workflowId: 'w2', stepKey: 'a' }), f)).toBe(false);
    expect(taskMatchesFilter(task('t', 'PENDING', { workflowId: 'w1', stepKey: 'a' }), f)).toBe(true);
    const on = task('on', 'WAITING', { workflowId: 'w1', stepKey: 'a', attempts: 0, createdAt: iso(0), updatedAt: iso(0) });
    const p = page([on]);
    const added = task('added', 'WAITING', { workflowId: 'w1', stepKey: 'b', attempts: 0, createdAt: iso(5), updatedAt: iso(5) });
    const other = task('other', 'WAITING', { workflowId: 'w2', stepKey: 'b', attempts: 0, createdAt: iso(5), updatedAt: iso(5) });
    const moved = task('on', 'PENDING', { workflowId: 'w1', stepKey: 'a', attempts: 0, createdAt: iso(0), updatedAt: iso(6) });
    const next = mergeTaskEvents(p, [added, other, moved], f, true, 50);
    expect(next.tasks.map((t) => [t.id, t.status])).toEqual([
      ['added', 'WAITING'],
      ['on', 'PENDING'],
    ]);
  });
});

describe('compareTimes and eventsNewerThan', () => {
  it('orders the server times whatever their fraction digits', () => {
    expect(compareTimes('2026-12-07T12:00:00Z', '2026-12-07T12:00:00.5Z')).toBeLessThan(0);
    expect(compareTimes('2026-12-07T12:00:00.123456789Z', '2026-12-07T12:00:00.12345679Z')).toBeLessThan(0);
    expect(compareTimes('2026-12-07T12:00:01Z', '2026-12-07T12:00:00.999Z')).toBeGreaterThan(0);
    expect(compareTimes('2026-12-07T12:00:00.5Z', '2026-12-07T12:00:00.50Z')).toBe(0);
  });

  it('keeps the events a loaded page does not hold yet', () => {
    const row = (id: string, status: TaskSummary['status'], updatedAt: string) => ({ id, status, updatedAt }) as TaskSummary;
    const page = { tasks: [row('a', 'PENDING', '2026-12-07T12:00:00.2Z')], cursors: {}, hasNextPage: false, endCursor: null, totalCount: 1, fresh: new Set<string>(), stale: new Set<string>() };
    const got = eventsNewerThan(page, [
      row('a', 'ASSIGNED', '2026-12-07T12:00:00.1Z'), // older than the page's
      row('a', 'FAILED', '2026-12-07T12:00:00.3Z'), // newer
      row('b', 'FAILED', '2026-12-07T12:00:00Z'), // not on the page
    ]);
    expect(got.map((t) => `${t.id} ${t.status}`)).toEqual(['a FAILED', 'b FAILED']);
  });
});
