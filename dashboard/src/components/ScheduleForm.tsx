// ScheduleForm: creates a schedule (createSchedule), or edits one
// (updateSchedule, prefilled from the schedule): its name, a cron
// expression with its time zone or an interval, the task each tick submits,
// and the overlap and misfire policies. The node judges the cron expression
// and the time zone; its errors show by the field they are about.

import { useEffect, useId, useMemo, useState, type FormEvent } from 'react';

import {
  MISFIRE_POLICIES,
  OVERLAP_POLICIES,
  TASK_PRIORITIES,
  type MisfirePolicy,
  type OverlapPolicy,
  type Schedule,
  type TaskPriority,
} from '../service/types';
import { useCan } from '../state/session';
import { useDashboard, useService } from '../state/store';
import { label } from '../lib/format';
import { Link, navigate, useRoute } from '../lib/router';
import {
  browserTimeZone,
  emptyScheduleForm,
  errorField,
  MISFIRE_HELP,
  OVERLAP_HELP,
  scheduleFormFrom,
  scheduleInputFrom,
  checkScheduleForm,
  type ScheduleFormFields,
} from '../lib/scheduleForm';
import { EXAMPLE_INPUTS } from './TaskSubmitForm';
import { ErrorNote, NotAllowed, NumberField } from './common';
import { scheduleHref } from './ScheduleList';

/** /schedules/new, or /schedules/edit?name=NAME. */
export function ScheduleForm({ edit }: { edit: boolean }) {
  const name = useRoute().query.get('name') ?? '';
  const allowed = useCan(edit ? 'updateSchedule' : 'createSchedule');
  if (!allowed) {
    return (
      <section aria-labelledby="schedule-form-title">
        <Head edit={edit} name={name} />
        <NotAllowed action={edit ? 'updateSchedule' : 'createSchedule'}>You can follow the schedules, not change them.</NotAllowed>
      </section>
    );
  }
  return edit ? <EditSchedule key={name} name={name} /> : <Form schedule={null} />;
}

function Head({ edit, name }: { edit: boolean; name: string }) {
  return (
    <>
      <p className="crumbs">
        <Link to="/schedules">Schedules</Link> ›
      </p>
      <div className="page-head">
        <h1 id="schedule-form-title">
          {edit ? (
            <>
              Edit schedule <span className="mono">{name}</span>
            </>
          ) : (
            'New schedule'
          )}
        </h1>
      </div>
    </>
  );
}

/** Loads the schedule, then shows the form filled from it. */
function EditSchedule({ name }: { name: string }) {
  const service = useService();
  const [schedule, setSchedule] = useState<Schedule | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    service
      .getSchedule(name)
      .then((s) => live && setSchedule(s))
      .catch((err) => live && setError((err as Error).message));
    return () => {
      live = false;
    };
  }, [service, name]);
  if (schedule) return <Form schedule={schedule} />;
  return (
    <section aria-labelledby="schedule-form-title" aria-busy={schedule === undefined && !error}>
      <Head edit name={name} />
      {error ? (
        <ErrorNote>Could not load the schedule: {error}</ErrorNote>
      ) : schedule === null ? (
        <p>
          No schedule is named <span className="mono">{name}</span>. <Link to="/schedules">Back to the schedules</Link>
        </p>
      ) : (
        <p className="muted">Loading…</p>
      )}
    </section>
  );
}

function Form({ schedule }: { schedule: Schedule | null }) {
  const service = useService();
  const taskTypes = useDashboard((s) => s.taskTypes);
  const config = useDashboard((s) => s.config);
  const edit = schedule !== null;
  const uid = useId();
  const zones = useMemo(() => {
    try {
      return (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];
    } catch {
      return [];
    }
  }, []);
  const [f, setF] = useState<ScheduleFormFields>(() => (schedule ? scheduleFormFrom(schedule) : emptyScheduleForm('', browserTimeZone())));
  const [tried, setTried] = useState(false);
  const [busy, setBusy] = useState(false);
  const [apiError, setApiError] = useState<string | null>(null);
  const set = <K extends keyof ScheduleFormFields>(k: K, v: ScheduleFormFields[K]) => {
    setF((cur) => ({ ...cur, [k]: v }));
    setApiError(null);
  };

  // A new schedule's first type once the types are known, with its example input.
  useEffect(() => {
    if (!edit && !f.type && taskTypes.length > 0) {
      const t = taskTypes.includes('echo') ? 'echo' : taskTypes[0];
      setF((cur) => ({ ...cur, type: t, input: cur.input || (EXAMPLE_INPUTS[t] ?? '') }));
    }
  }, [edit, f.type, taskTypes]);

  const errors = useMemo(() => checkScheduleForm(f), [f]);
  const shown = tried ? errors : { input: errors.input, every: f.every ? errors.every : undefined };
  const apiField = apiError ? errorField(apiError) : null;
  const valid = Object.keys(errors).length === 0;
  const kept = schedule
    ? [
        schedule.task.metadata != null && 'metadata',
        (schedule.task.retryBackoffMs != null || schedule.task.maxBackoffMs != null) && 'retry backoff',
        schedule.task.uniqueKey && `unique key ${schedule.task.uniqueKey}`,
      ].filter(Boolean)
    : [];

  async function submit(e: FormEvent) {
    e.preventDefault();
    setTried(true);
    const r = scheduleInputFrom(f, schedule?.task);
    if (!r.input) return;
    setBusy(true);
    setApiError(null);
    try {
      const s = edit ? await service.updateSchedule(r.input) : await service.createSchedule(r.input);
      navigate(scheduleHref(s.name));
    } catch (err) {
      setApiError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  const id = (k: string) => `${uid}-${k}`;
  const fieldError = (k: 'name' | 'cron' | 'timezone' | 'every', fallback?: string) =>
    apiField === k ? (
      <small className="field-error" id={id(`${k}-msg`)} data-testid="schedule-field-error">
        {apiError}
      </small>
    ) : shown[k] ? (
      <small className="field-error" id={id(`${k}-msg`)}>
        {shown[k]}
      </small>
    ) : fallback ? (
      <small className="field-hint" id={id(`${k}-msg`)}>
        {fallback}
      </small>
    ) : null;

  return (
    <section aria-labelledby="schedule-form-title">
      <Head edit={edit} name={schedule?.name ?? ''} />
      <form className="card form submit-form schedule-form" onSubmit={submit} noValidate data-testid="schedule-form">
        <div className="form-row">
          <label className="field" htmlFor={id('name')}>
            <span>Name</span>
            <input
              id={id('name')}
              name="name"
              value={f.name}
              onChange={(e) => set('name', e.target.value)}
              readOnly={edit}
              placeholder="nightly-index"
              autoComplete="off"
              spellCheck={false}
              aria-invalid={!!shown.name || apiField === 'name'}
              aria-describedby={id('name-msg')}
            />
            {fieldError('name', edit ? 'A schedule keeps its name.' : 'Letters, digits and . _ : / -; unique.')}
          </label>
        </div>

        <fieldset className="choice-set">
          <legend>Ticks</legend>
          <div className="choice-row">
            <label className="check">
              <input type="radio" name="mode" value="cron" checked={f.mode === 'cron'} onChange={() => set('mode', 'cron')} /> By cron expression
            </label>
            <label className="check">
              <input type="radio" name="mode" value="every" checked={f.mode === 'every'} onChange={() => set('mode', 'every')} /> Every interval
            </label>
          </div>
          {f.mode === 'cron' ? (
            <div className="form-row">
              <label className="field span-2" htmlFor={id('cron')}>
                <span>Cron expression</span>
                <input
                  id={id('cron')}
                  name="cron"
                  className="mono"
                  value={f.cron}
                  onChange={(e) => set('cron', e.target.value)}
                  placeholder="0 3 * * *"
                  autoComplete="off"
                  spellCheck={false}
                  aria-invalid={!!shown.cron || apiField === 'cron'}
                  aria-describedby={id('cron-msg')}
                />
                {fieldError('cron', 'minute hour day month weekday (a leading seconds field too), or @daily, @hourly…')}
              </label>
              <label className="field span-2" htmlFor={id('timezone')}>
                <span>Time zone</span>
                <input
                  id={id('timezone')}
                  name="timezone"
                  value={f.timezone}
                  onChange={(e) => set('timezone', e.target.value)}
                  list={zones.length > 0 ? id('zones') : undefined}
                  placeholder="UTC"
                  autoComplete="off"
                  spellCheck={false}
                  aria-invalid={apiField === 'timezone'}
                  aria-describedby={id('timezone-msg')}
                />
                {zones.length > 0 && (
                  <datalist id={id('zones')}>
                    {zones.map((z) => (
                      <option key={z} value={z} />
                    ))}
                  </datalist>
                )}
                {fieldError('timezone', 'An IANA name such as Europe/Paris; empty: UTC.')}
              </label>
            </div>
          ) : (
            <div className="form-row">
              <label className="field" htmlFor={id('every')}>
                <span>Every</span>
                <input
                  id={id('every')}
                  name="every"
                  className="mono"
                  value={f.every}
                  onChange={(e) => set('every', e.target.value)}
                  placeholder="90s"
                  autoComplete="off"
                  spellCheck={false}
                  aria-invalid={!!shown.every || apiField === 'every'}
                  aria-describedby={id('every-msg')}
                />
                {fieldError('every', 'Such as 30s, 15m or 1h30m; at least 1s. Ticks from creation on.')}
              </label>
            </div>
          )}
        </fieldset>

        <fieldset className="choice-set">
          <legend>Task at each tick</legend>
          <div className="form-row">
            <label className="field" htmlFor={id('type')}>
              <span>Type</span>
              <select id={id('type')} name="type" value={f.type} onChange={(e) => set('type', e.target.value)} aria-invalid={!!shown.type}>
                {!f.type && <option value="">Choose…</option>}
                {taskTypes.map((t) => (
                  <option key={t} value={t}>
                    {t}
                  </option>
                ))}
                {f.type && !taskTypes.includes(f.type) && <option value={f.type}>{f.type}</option>}
              </select>
              {shown.type && <small className="field-error">{shown.type}</small>}
            </label>
            <label className="field" htmlFor={id('priority')}>
              <span>Priority</span>
              <select id={id('priority')} name="priority" value={f.priority} onChange={(e) => set('priority', e.target.value as TaskPriority)}>
                {TASK_PRIORITIES.map((p) => (
                  <option key={p} value={p}>
                    {label(p)}
                  </option>
                ))}
              </select>
            </label>
            <NumberField
              id={id('timeout')}
              name="timeoutSeconds"
              label="Timeout (s)"
              decimal
              value={f.timeout}
              onChange={(v) => set('timeout', v)}
              placeholder={config ? `default ${config.defaultTimeoutSeconds}` : 'default'}
              error={shown.timeout}
            />
            <NumberField
              id={id('retries')}
              name="maxRetries"
              label="Max retries"
              value={f.retries}
              onChange={(v) => set('retries', v)}
              placeholder={config ? `default ${config.defaultMaxRetries}` : 'default'}
              error={shown.retries}
            />
          </div>
          <label className="field" htmlFor={id('input')}>
            <span>Input (JSON)</span>
            <textarea
              id={id('input')}
              name="input"
              className="mono"
              rows={5}
              spellCheck={false}
              value={f.input}
              onChange={(e) => set('input', e.target.value)}
              aria-invalid={!!shown.input}
              aria-describedby={id('input-msg')}
            />
            <small id={id('input-msg')} className={shown.input ? 'field-error' : 'field-hint'}>
              {shown.input ?? (f.input.trim() === '' ? 'Empty: the tasks get no input.' : 'Valid JSON.')}
            </small>
          </label>
          {kept.length > 0 && (
            <p className="field-hint" data-testid="schedule-kept">
              Kept as they are (set through the API): {kept.join(', ')}.
            </p>
          )}
        </fieldset>

        <div className="form-row">
          <label className="field span-2" htmlFor={id('overlap')}>
            <span>If the previous task is unfinished</span>
            <select id={id('overlap')} name="overlap" value={f.overlap} onChange={(e) => set('overlap', e.target.value as OverlapPolicy)} aria-describedby={id('overlap-msg')}>
              {OVERLAP_POLICIES.map((p) => (
                <option key={p} value={p}>
                  {label(p)}
                </option>
              ))}
            </select>
            <small className="field-hint" id={id('overlap-msg')}>
              {OVERLAP_HELP[f.overlap]}
            </small>
          </label>
          <label className="field span-2" htmlFor={id('misfire')}>
            <span>Missed ticks</span>
            <select id={id('misfire')} name="misfire" value={f.misfire} onChange={(e) => set('misfire', e.target.value as MisfirePolicy)} aria-describedby={id('misfire-msg')}>
              {MISFIRE_POLICIES.map((p) => (
                <option key={p} value={p}>
                  {label(p)}
                </option>
              ))}
            </select>
            <small className="field-hint" id={id('misfire-msg')}>
              {MISFIRE_HELP[f.misfire]}
            </small>
          </label>
        </div>

        {!edit && (
          <label className="check">
            <input type="checkbox" name="paused" checked={f.paused} onChange={(e) => set('paused', e.target.checked)} /> Create it paused
          </label>
        )}

        {apiError && (
          <div data-testid="schedule-error">
            <ErrorNote>The node refused the schedule: {apiError}</ErrorNote>
          </div>
        )}
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy || (tried && !valid)}>
            {busy ? 'Saving…' : edit ? 'Save schedule' : 'Create schedule'}
          </button>
          <Link to="/schedules" className="btn btn-ghost">
            Cancel
          </Link>
        </div>
      </form>
    </section>
  );
}
