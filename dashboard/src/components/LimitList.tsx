// LimitList: flow control. The cluster's limits with their use (slots
// running out of maxConcurrent, tasks held back; per group for a "*" limit),
// a form to set one (admin), delete with a confirmation (admin); and every
// task type with pause and resume (operator). Use changes with every task
// that starts or stops: the page loads again after task events (at most
// once a second) and after a reconnection.

import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';

import type { Limit, TaskTypeState } from '../service/types';
import { useCan } from '../state/session';
import { useService, useStore } from '../state/store';
import {
  boundsText,
  checkLimitForm,
  defaultBurst,
  emptyLimitForm,
  limitFormFrom,
  scopeText,
  slotUse,
  type LimitFormFields,
} from '../lib/limitForm';
import { Link } from '../lib/router';
import { ActionButton, Empty, ErrorNote, NotAllowed, ProgressBar } from './common';

/** The tasks a limit holds back (PENDING, of its type). */
function heldTasksHref(l: Limit): string {
  const q = new URLSearchParams({ status: 'PENDING' });
  if (l.taskType) q.set('type', l.taskType);
  return `/tasks?${q.toString()}`;
}

export function LimitList() {
  const service = useService();
  const store = useStore();
  const canSet = useCan('setLimit');
  const canDelete = useCan('deleteLimit');
  const canPause = useCan('pauseTaskType');

  const [limits, setLimits] = useState<Limit[] | null>(null);
  const [types, setTypes] = useState<TaskTypeState[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [form, setForm] = useState<LimitFormFields>(emptyLimitForm);
  const formRef = useRef<HTMLFormElement>(null);

  const request = useRef(0);
  const load = useCallback(async () => {
    const id = ++request.current;
    try {
      const d = await service.flowControl();
      if (id !== request.current) return;
      setLimits(d.limits);
      setTypes(d.taskTypeStates);
      setError(null);
    } catch (err) {
      if (id === request.current) setError((err as Error).message);
    }
  }, [service]);

  useEffect(() => {
    void load();
  }, [load]);
  useEffect(() => store.onResync(() => void load()), [store, load]);
  // Tasks starting, ending or being held change the use: load again, at
  // most once a second.
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const off = store.onTasks(() => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        void load();
      }, 1000);
    });
    return () => {
      off();
      if (timer) clearTimeout(timer);
    };
  }, [store, load]);

  async function remove(id: string) {
    await service.deleteLimit(id);
    setLimits((cur) => (cur ? cur.filter((l) => l.id !== id) : cur));
    setConfirming(null);
    setNote(`Deleted the limit ${id}; the tasks it held back are placed again.`);
    void load();
  }

  function edit(l: Limit) {
    setForm(limitFormFrom(l));
    setNote(null);
    formRef.current?.scrollIntoView({ block: 'start' });
    formRef.current?.querySelector<HTMLElement>('select, input')?.focus({ preventScroll: true });
  }

  async function pause(t: TaskTypeState, paused: boolean) {
    await service.pauseTaskType(t.type, paused);
    setTypes((cur) => (cur ? cur.map((x) => (x.type === t.type ? { ...x, paused } : x)) : cur));
    void load();
  }

  const typeNames = types?.map((t) => t.type) ?? [];

  return (
    <section aria-labelledby="limits-title">
      <div className="page-head">
        <h1 id="limits-title">Limits</h1>
      </div>
      <p className="muted intro">
        A limit bounds the tasks of a type, a group, or both, across the whole cluster: how many run at once and how
        many start per second. A task a limit holds back stays pending and says why; the tasks behind it are placed. A
        limit on group <span className="mono">*</span> bounds each group separately. A paused task type queues its
        tasks but places none.
      </p>

      {note && (
        <div className="note note-info" role="status" data-testid="limit-note">
          {note}
        </div>
      )}
      {error && <ErrorNote>Could not load the limits: {error}</ErrorNote>}

      <div className="table-wrap">
        <table className="limits" aria-label="Limits" aria-busy={limits === null}>
          <thead>
            <tr>
              <th scope="col">Limit</th>
              <th scope="col">Bounds</th>
              <th scope="col">Running</th>
              <th scope="col" className="num">
                Held
              </th>
              {(canSet || canDelete) && (
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {limits?.map((l) => (
              <LimitRow
                key={l.id}
                limit={l}
                canSet={canSet}
                canDelete={canDelete}
                confirming={confirming === l.id}
                onEdit={() => edit(l)}
                onAskDelete={() => {
                  setConfirming(l.id);
                  setNote(null);
                }}
                onKeep={() => setConfirming(null)}
                onDelete={() => remove(l.id)}
              />
            ))}
          </tbody>
        </table>
        {limits && limits.length === 0 && <Empty>No limits: every ready task is placed as soon as a worker is free.</Empty>}
        {limits === null && !error && <p className="muted">Loading…</p>}
      </div>

      <LimitForm
        formRef={formRef}
        fields={form}
        onChange={setForm}
        taskTypes={typeNames}
        existing={limits ?? []}
        allowed={canSet}
        onSaved={(l) => {
          setLimits((cur) => (cur ? [...cur.filter((x) => x.id !== l.id), l].sort((a, b) => a.id.localeCompare(b.id)) : [l]));
          setNote(`Set the limit ${l.id}.`);
          setForm(emptyLimitForm());
          void load();
        }}
      />

      <section className="card" aria-labelledby="types-title" id="task-types">
        <h2 id="types-title">Task types</h2>
        <p className="muted small">
          Pausing a type holds its pending tasks (and those submitted later) until it is resumed; tasks already running
          finish.
        </p>
        {!canPause && <NotAllowed action="pauseTaskType">You can see which types are paused, not pause them.</NotAllowed>}
        <div className="table-wrap">
          <table className="task-types" aria-label="Task types" aria-busy={types === null}>
            <thead>
              <tr>
                <th scope="col">Type</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {types?.map((t) => (
                <tr key={t.type} data-task-type={t.type} data-paused={t.paused ? 'true' : 'false'}>
                  <td className="mono">
                    <Link to={`/tasks?type=${encodeURIComponent(t.type)}`}>{t.type}</Link>
                  </td>
                  <td>
                    {t.paused ? (
                      <span className="badge tone-warn" data-testid="type-paused">
                        Paused
                      </span>
                    ) : (
                      <span className="badge tone-ok">Active</span>
                    )}
                  </td>
                  <td className="row-actions">
                    {t.paused ? (
                      <ActionButton className="btn-small" disabled={!canPause} onRun={() => pause(t, false)} busyLabel="Resuming…" title={canPause ? `Place ${t.type} tasks again` : 'Needs an operator key'}>
                        Resume
                      </ActionButton>
                    ) : (
                      <ActionButton className="btn-small" disabled={!canPause} onRun={() => pause(t, true)} busyLabel="Pausing…" title={canPause ? `Queue ${t.type} tasks without placing them` : 'Needs an operator key'}>
                        Pause
                      </ActionButton>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </section>
  );
}

function LimitRow({
  limit: l,
  canSet,
  canDelete,
  confirming,
  onEdit,
  onAskDelete,
  onKeep,
  onDelete,
}: {
  limit: Limit;
  canSet: boolean;
  canDelete: boolean;
  confirming: boolean;
  onEdit: () => void;
  onAskDelete: () => void;
  onKeep: () => void;
  onDelete: () => Promise<void>;
}) {
  const use = slotUse(l.running, l.group === '*' ? null : l.maxConcurrent);
  const shownGroups = l.groups.slice(0, 8);
  return (
    <tr id={`limit-${l.id}`} data-limit-id={l.id}>
      <td>
        <div className="mono">{l.id}</div>
        <div className="muted small">{scopeText(l)}</div>
      </td>
      <td className="small" data-testid="limit-bounds">
        {boundsText(l)}
      </td>
      <td className="limit-use" data-testid="limit-running">
        {l.group === '*' ? (
          <>
            <div className="small">
              {l.running} running in all{l.maxConcurrent !== null ? `; at most ${l.maxConcurrent} per group` : ''}
            </div>
            {shownGroups.length > 0 && (
              <ul className="limit-groups" aria-label={`Use of ${l.id} by group`}>
                {shownGroups.map((g) => {
                  const gu = slotUse(g.running, l.maxConcurrent);
                  return (
                    <li key={g.group} data-group={g.group}>
                      <span className="mono small">{g.group}</span>
                      {l.maxConcurrent !== null && <ProgressBar value={gu.fraction} tone={gu.tone} label={`${g.group}: ${g.running} of ${l.maxConcurrent} running`} />}
                      <span className="small">
                        {g.running}
                        {l.maxConcurrent !== null ? `/${l.maxConcurrent}` : ''}
                        {g.held > 0 ? ` · ${g.held} held` : ''}
                      </span>
                    </li>
                  );
                })}
                {l.groups.length > shownGroups.length && <li className="muted small">and {l.groups.length - shownGroups.length} more groups</li>}
              </ul>
            )}
          </>
        ) : (
          <div className="limit-bar">
            {l.maxConcurrent !== null && <ProgressBar value={use.fraction} tone={use.tone} label={`${l.running} of ${l.maxConcurrent} running`} />}
            <span className="small">
              {l.running}
              {l.maxConcurrent !== null ? ` / ${l.maxConcurrent}` : ' running'}
            </span>
          </div>
        )}
      </td>
      <td className="num" data-testid="limit-held">
        {l.held > 0 ? (
          <Link to={heldTasksHref(l)} title="Pending tasks of this type">
            {l.held}
          </Link>
        ) : (
          0
        )}
      </td>
      {(canSet || canDelete) && (
        <td className="row-actions">
          {confirming ? (
            <div className="confirm" role="group" aria-label={`Delete ${l.id}?`} data-testid="limit-delete-confirm">
              <span>
                Delete the limit <strong className="mono">{l.id}</strong>? The tasks it holds back are placed again.
              </span>
              <ActionButton className="btn-danger btn-small" onRun={onDelete} busyLabel="Deleting…">
                Yes, delete
              </ActionButton>
              <button type="button" className="btn btn-small" onClick={onKeep}>
                Keep it
              </button>
            </div>
          ) : (
            <>
              {canSet && (
                <button type="button" className="btn btn-small" onClick={onEdit}>
                  Change
                </button>
              )}
              {canDelete && (
                <button type="button" className="btn btn-small btn-danger" onClick={onAskDelete}>
                  Delete
                </button>
              )}
            </>
          )}
        </td>
      )}
    </tr>
  );
}

function LimitForm({
  formRef,
  fields: f,
  onChange,
  taskTypes,
  existing,
  allowed,
  onSaved,
}: {
  formRef: React.RefObject<HTMLFormElement | null>;
  fields: LimitFormFields;
  onChange: (f: LimitFormFields) => void;
  taskTypes: string[];
  existing: Limit[];
  allowed: boolean;
  onSaved: (l: Limit) => void;
}) {
  const service = useService();
  const [tried, setTried] = useState(false);
  const [busy, setBusy] = useState(false);
  const [apiError, setApiError] = useState<string | null>(null);
  const check = checkLimitForm(f);
  const shown = tried ? check.errors : {};
  const replaces = check.id !== '' && existing.some((l) => l.id === check.id);
  const set = <K extends keyof LimitFormFields>(k: K, v: LimitFormFields[K]) => {
    onChange({ ...f, [k]: v });
    setApiError(null);
  };
  const rate = Number(f.rate);
  const burstHint = f.rate.trim() !== '' && rate > 0 ? `Empty: ${defaultBurst(rate)} (the rate rounded up).` : 'Starts saved up while idle; needs a rate.';

  async function submit(e: FormEvent) {
    e.preventDefault();
    setTried(true);
    if (!check.input) return;
    setBusy(true);
    setApiError(null);
    try {
      onSaved(await service.setLimit(check.input));
      setTried(false);
    } catch (err) {
      setApiError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  const msg = (k: keyof typeof shown, hint: string) => (
    <small className={shown[k] ? 'field-error' : 'field-hint'} id={`limit-${k}-msg`}>
      {shown[k] ?? hint}
    </small>
  );

  return (
    <form ref={formRef} className="form card limit-form" onSubmit={submit} noValidate aria-labelledby="limit-form-title" data-testid="limit-form" data-readonly={!allowed || undefined}>
      <h2 id="limit-form-title">Set a limit</h2>
      {!allowed && <NotAllowed action="setLimit">You can read the limits, not change them.</NotAllowed>}
      <fieldset disabled={!allowed} className="plain">
        <fieldset className="choice-set">
          <legend>Tasks it bounds</legend>
          <div className="form-row">
            <label className="field" htmlFor="limit-type">
              <span>Task type</span>
              <select id="limit-type" name="taskType" value={f.taskType} onChange={(e) => set('taskType', e.target.value)}>
                <option value="">Every type</option>
                {taskTypes.map((t) => (
                  <option key={t} value={t}>
                    {t}
                  </option>
                ))}
                {f.taskType && !taskTypes.includes(f.taskType) && <option value={f.taskType}>{f.taskType}</option>}
              </select>
            </label>
          </div>
          <div className="choice-row" role="radiogroup" aria-label="Groups">
            <label className="check">
              <input type="radio" name="groupMode" value="all" checked={f.groupMode === 'all'} onChange={() => set('groupMode', 'all')} /> Every group together
            </label>
            <label className="check">
              <input type="radio" name="groupMode" value="each" checked={f.groupMode === 'each'} onChange={() => set('groupMode', 'each')} /> Each group separately (*)
            </label>
            <label className="check">
              <input type="radio" name="groupMode" value="one" checked={f.groupMode === 'one'} onChange={() => set('groupMode', 'one')} /> One group
            </label>
            {f.groupMode === 'one' && (
              <input
                name="group"
                className="mono inline-group"
                aria-label="Group"
                value={f.group}
                onChange={(e) => set('group', e.target.value)}
                placeholder="campaign-7"
                autoComplete="off"
                spellCheck={false}
                aria-invalid={!!shown.group}
                aria-describedby="limit-group-msg"
              />
            )}
          </div>
          {shown.group && (
            <small className="field-error" id="limit-group-msg">
              {shown.group}
            </small>
          )}
          {shown.scope && (
            <small className="field-error" role="alert">
              {shown.scope}
            </small>
          )}
        </fieldset>
        <div className="form-row">
          <label className="field" htmlFor="limit-max">
            <span>Max concurrent</span>
            <input id="limit-max" name="maxConcurrent" inputMode="numeric" value={f.maxConcurrent} onChange={(e) => set('maxConcurrent', e.target.value)} aria-invalid={!!shown.maxConcurrent} aria-describedby="limit-maxConcurrent-msg" />
            {msg('maxConcurrent', f.groupMode === 'each' ? 'Running at once in each group.' : 'Running at once across the cluster.')}
          </label>
          <label className="field" htmlFor="limit-rate">
            <span>Starts per second</span>
            <input id="limit-rate" name="rate" inputMode="decimal" value={f.rate} onChange={(e) => set('rate', e.target.value)} aria-invalid={!!shown.rate} aria-describedby="limit-rate-msg" />
            {msg('rate', 'Such as 5 or 0.5; empty: no rate.')}
          </label>
          <label className="field" htmlFor="limit-burst">
            <span>Burst</span>
            <input id="limit-burst" name="burst" inputMode="numeric" value={f.burst} onChange={(e) => set('burst', e.target.value)} aria-invalid={!!shown.burst} aria-describedby="limit-burst-msg" />
            {msg('burst', burstHint)}
          </label>
        </div>
        {shown.bounds && (
          <small className="field-error" role="alert">
            {shown.bounds}
          </small>
        )}
        {apiError && <ErrorNote>The node refused the limit: {apiError}</ErrorNote>}
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy || (tried && !check.input)} aria-busy={busy}>
            {busy ? 'Saving…' : replaces ? `Replace ${check.id}` : 'Set limit'}
          </button>
          {check.id && (
            <span className="muted small" data-testid="limit-form-id">
              {replaces ? 'Replaces the limit ' : 'Sets the limit '}
              <span className="mono">{check.id}</span>
            </span>
          )}
        </div>
      </fieldset>
    </form>
  );
}
