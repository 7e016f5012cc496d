// The form that submits a task: a registered type, JSON input checked as it
// is typed, priority, timeout, retries, the task's own retry backoff, when
// it runs (now, in N seconds, at a date and time), a unique key, and
// metadata.

import { useEffect, useId, useMemo, useState, type FormEvent } from 'react';

import { TASK_PRIORITIES, type DuplicatePolicy, type SubmitTaskInput, type TaskPriority } from '../service/types';
import { useCan } from '../state/session';
import { useDashboard, useService } from '../state/store';
import { checkJSON } from '../lib/json';
import { checkBackoffMs } from '../lib/taskBackoff';
import { localDateTimeValue, timingInput, uniqueInput, type RunMode } from '../lib/taskSubmit';
import { groupError } from '../lib/group';
import { label } from '../lib/format';
import { Link, navigate } from '../lib/router';
import { ErrorNote, NotAllowed, NumberField } from './common';

/** Example inputs of the built-in types, filled in when a type is chosen. */
export const EXAMPLE_INPUTS: Record<string, string> = {
  echo: '{\n  "campaign": "Curse of the Crimson Throne",\n  "session": 12\n}',
  sleep: '{ "ms": 2000 }',
  fail: '{ "times": 1 }',
  'dice.simulate': '{ "expr": "4d6kh3", "trials": 10000 }',
};

export function TaskSubmitForm() {
  if (!useCan('submitTask')) {
    return (
      <section aria-labelledby="submit-title">
        <SubmitHead />
        <NotAllowed action="submitTask">You can follow the tasks, not submit them.</NotAllowed>
      </section>
    );
  }
  return <SubmitForm />;
}

/** The breadcrumb and title of the page. */
function SubmitHead() {
  return (
    <>
      <p className="crumbs">
        <Link to="/tasks">Tasks</Link> ›
      </p>
      <div className="page-head">
        <h1 id="submit-title">New task</h1>
      </div>
    </>
  );
}

function SubmitForm() {
  const service = useService();
  const taskTypes = useDashboard((s) => s.taskTypes);
  const config = useDashboard((s) => s.config);
  const [type, setType] = useState('');
  const [input, setInput] = useState('');
  const [inputTouched, setInputTouched] = useState(false);
  const [priority, setPriority] = useState<TaskPriority>('NORMAL');
  const [timeout, setTimeoutText] = useState('');
  const [retries, setRetries] = useState('');
  const [backoff, setBackoff] = useState('');
  const [maxBackoff, setMaxBackoff] = useState('');
  const [metadata, setMetadata] = useState('');
  const [runMode, setRunMode] = useState<RunMode>('now');
  const [delay, setDelay] = useState('60');
  const [runAt, setRunAt] = useState(() => localDateTimeValue(Date.now() + 3600_000));
  const [uniqueKey, setUniqueKey] = useState('');
  const [uniqueFor, setUniqueFor] = useState('');
  const [onDuplicate, setOnDuplicate] = useState<DuplicatePolicy>('RETURN_EXISTING');
  const [group, setGroup] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [tried, setTried] = useState(false);
  const ids = {
    type: useId(),
    input: useId(),
    meta: useId(),
    timeout: useId(),
    retries: useId(),
    backoff: useId(),
    maxBackoff: useId(),
    delay: useId(),
    runAt: useId(),
    uniqueKey: useId(),
    uniqueFor: useId(),
    onDuplicate: useId(),
    group: useId(),
  };

  // The first type once the types are known.
  useEffect(() => {
    if (!type && taskTypes.length > 0) {
      const t = taskTypes.includes('echo') ? 'echo' : taskTypes[0];
      setType(t);
      if (!inputTouched) setInput(EXAMPLE_INPUTS[t] ?? '');
    }
  }, [taskTypes, type, inputTouched]);

  const inputCheck = useMemo(() => checkJSON(input), [input]);
  const metaCheck = useMemo(() => checkJSON(metadata), [metadata]);
  const timeoutNum = timeout.trim() === '' ? null : Number(timeout);
  const retriesNum = retries.trim() === '' ? null : Number(retries);
  const timeoutError =
    timeoutNum !== null && (!Number.isFinite(timeoutNum) || timeoutNum < 0 || timeoutNum > 86400)
      ? 'A number of seconds from 0 to 86400 (0 or empty: the default)'
      : null;
  const retriesError =
    retriesNum !== null && (!Number.isInteger(retriesNum) || retriesNum < 0 || retriesNum > 100) ? 'A whole number from 0 to 100' : null;
  const backoffCheck = checkBackoffMs(backoff);
  const maxBackoffCheck = checkBackoffMs(maxBackoff);
  const backoffError = backoffCheck.error;
  const maxBackoffError =
    maxBackoffCheck.error ??
    (backoffCheck.ms !== null && maxBackoffCheck.ms !== null && maxBackoffCheck.ms < backoffCheck.ms
      ? 'Not under the first backoff'
      : null);
  const timing = timingInput({ mode: runMode, delay, at: runAt });
  const unique = uniqueInput({ key: uniqueKey, holdSeconds: uniqueFor, onDuplicate });
  const noKey = uniqueKey.trim() === '';
  const groupErr = groupError(group);
  const typeError = type ? null : 'Choose a task type';
  const valid =
    !typeError &&
    inputCheck.ok &&
    metaCheck.ok &&
    !timeoutError &&
    !retriesError &&
    !backoffError &&
    !maxBackoffError &&
    !timing.error &&
    !unique.error &&
    !unique.holdError &&
    !groupErr;

  function chooseType(t: string) {
    setType(t);
    if (!inputTouched || input.trim() === '' || Object.values(EXAMPLE_INPUTS).includes(input)) {
      setInput(EXAMPLE_INPUTS[t] ?? '');
      setInputTouched(false);
    }
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    setTried(true);
    if (!valid || !inputCheck.ok || !metaCheck.ok) return;
    const req: SubmitTaskInput = { type, priority };
    if (!inputCheck.empty) req.input = inputCheck.value;
    if (!metaCheck.empty) req.metadata = metaCheck.value;
    if (timeoutNum !== null && timeoutNum > 0) req.timeoutSeconds = timeoutNum;
    if (retriesNum !== null) req.maxRetries = retriesNum;
    if (backoffCheck.ms !== null) req.retryBackoffMs = backoffCheck.ms;
    if (maxBackoffCheck.ms !== null) req.maxBackoffMs = maxBackoffCheck.ms;
    // The time is read now, not when the form was drawn.
    Object.assign(req, timingInput({ mode: runMode, delay, at: runAt }).value, unique.value);
    if (group !== '') req.group = group;
    setBusy(true);
    setError(null);
    try {
      const t = await service.submitTask(req);
      // A held unique key: nothing was created; the task that holds it is
      // shown, and says so.
      navigate(`/tasks/${encodeURIComponent(t.id)}${t.duplicate ? '?duplicate=1' : ''}`);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="submit-title">
      <SubmitHead />
      <form className="card form submit-form" onSubmit={submit} noValidate aria-describedby={error ? 'submit-error' : undefined}>
        <div className="form-row">
          <label className="field" htmlFor={ids.type}>
            <span>Type</span>
            <select id={ids.type} name="type" value={type} onChange={(e) => chooseType(e.target.value)} required aria-invalid={tried && !!typeError}>
              {!type && <option value="">Choose…</option>}
              {taskTypes.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
            {tried && typeError && <small className="field-error">{typeError}</small>}
          </label>
          <label className="field">
            <span>Priority</span>
            <select name="priority" value={priority} onChange={(e) => setPriority(e.target.value as TaskPriority)}>
              {TASK_PRIORITIES.map((p) => (
                <option key={p} value={p}>
                  {label(p)}
                </option>
              ))}
            </select>
          </label>
          <NumberField
            id={ids.timeout}
            name="timeoutSeconds"
            label="Timeout (s)"
            decimal
            value={timeout}
            onChange={setTimeoutText}
            placeholder={config ? `default ${config.defaultTimeoutSeconds}` : 'default'}
            error={timeoutError}
          />
          <NumberField
            id={ids.retries}
            name="maxRetries"
            label="Max retries"
            value={retries}
            onChange={setRetries}
            placeholder={config ? `default ${config.defaultMaxRetries}` : 'default'}
            error={retriesError}
          />
        </div>

        <div className="form-row">
          <NumberField
            id={ids.backoff}
            name="retryBackoffMs"
            label="First retry backoff (ms)"
            value={backoff}
            onChange={setBackoff}
            placeholder={config ? `cluster's ${config.retryBackoffMs}` : "cluster's"}
            error={backoffError}
            hint="Doubles with each failure; empty: the cluster's."
          />
          <NumberField
            id={ids.maxBackoff}
            name="maxBackoffMs"
            label="Max retry backoff (ms)"
            value={maxBackoff}
            onChange={setMaxBackoff}
            placeholder={config ? `cluster's ${config.maxBackoffMs}` : "cluster's"}
            error={maxBackoffError}
            hint="The longest wait between retries; empty: the cluster's."
          />
        </div>

        <fieldset className="choice-set" aria-describedby={`${ids.delay}-msg`}>
          <legend>Run</legend>
          <div className="choice-row">
            <label className="check">
              <input type="radio" name="runMode" value="now" checked={runMode === 'now'} onChange={() => setRunMode('now')} /> Now
            </label>
            <label className="check">
              <input type="radio" name="runMode" value="delay" checked={runMode === 'delay'} onChange={() => setRunMode('delay')} /> In
            </label>
            <input
              id={ids.delay}
              name="delaySeconds"
              className="inline-num"
              inputMode="decimal"
              aria-label="Delay (s)"
              value={delay}
              onChange={(e) => setDelay(e.target.value)}
              onFocus={() => setRunMode('delay')}
              aria-invalid={runMode === 'delay' && !!timing.error}
            />
            <span className="muted">seconds</span>
            <label className="check">
              <input type="radio" name="runMode" value="at" checked={runMode === 'at'} onChange={() => setRunMode('at')} /> At
            </label>
            <input
              id={ids.runAt}
              name="runAt"
              type="datetime-local"
              aria-label="Run at"
              value={runAt}
              onChange={(e) => setRunAt(e.target.value)}
              onFocus={() => setRunMode('at')}
              aria-invalid={runMode === 'at' && !!timing.error}
            />
          </div>
          <small className={timing.error ? 'field-error' : 'field-hint'} id={`${ids.delay}-msg`} data-testid="run-check">
            {timing.error ??
              (runMode === 'now'
                ? 'Queued at once.'
                : runMode === 'delay'
                  ? 'SCHEDULED until then, then queued (PENDING).'
                  : `Your time zone's time; SCHEDULED until then (a time that has passed means now).`)}
          </small>
        </fieldset>

        <div className="form-row">
          <label className="field" htmlFor={ids.group}>
            <span>Group (optional)</span>
            <input
              id={ids.group}
              name="group"
              value={group}
              onChange={(e) => setGroup(e.target.value)}
              placeholder="campaign-42"
              autoComplete="off"
              spellCheck={false}
              aria-invalid={!!groupErr}
              aria-describedby={`${ids.group}-msg`}
            />
            <small className={groupErr ? 'field-error' : 'field-hint'} id={`${ids.group}-msg`}>
              {groupErr ?? 'Typically a campaign: groups take turns, and limits may count per group.'}
            </small>
          </label>
          <label className="field" htmlFor={ids.uniqueKey}>
            <span>Unique key (optional)</span>
            <input
              id={ids.uniqueKey}
              name="uniqueKey"
              value={uniqueKey}
              onChange={(e) => setUniqueKey(e.target.value)}
              placeholder="thumbnail:handout-7"
              autoComplete="off"
              spellCheck={false}
              aria-invalid={!!unique.error}
              aria-describedby={`${ids.uniqueKey}-msg`}
            />
            <small className={unique.error ? 'field-error' : 'field-hint'} id={`${ids.uniqueKey}-msg`}>
              {unique.error ?? 'No other task with this key while this one is unfinished.'}
            </small>
          </label>
          <label className="field" htmlFor={ids.uniqueFor}>
            <span>Keep key after finish (s)</span>
            <input
              id={ids.uniqueFor}
              name="uniqueForSeconds"
              inputMode="decimal"
              value={uniqueFor}
              onChange={(e) => setUniqueFor(e.target.value)}
              placeholder="0"
              disabled={noKey}
              aria-invalid={!!unique.holdError}
              aria-describedby={`${ids.uniqueFor}-msg`}
            />
            <small className={unique.holdError ? 'field-error' : 'field-hint'} id={`${ids.uniqueFor}-msg`}>
              {unique.holdError ?? 'Empty or 0: only while unfinished.'}
            </small>
          </label>
          <label className="field" htmlFor={ids.onDuplicate}>
            <span>If the key is taken</span>
            <select
              id={ids.onDuplicate}
              name="onDuplicate"
              value={onDuplicate}
              onChange={(e) => setOnDuplicate(e.target.value as DuplicatePolicy)}
              disabled={noKey}
              aria-describedby={`${ids.onDuplicate}-msg`}
            >
              <option value="RETURN_EXISTING">Return the existing task</option>
              <option value="REPLACE">Replace it</option>
            </select>
            <small className="field-hint" id={`${ids.onDuplicate}-msg`}>
              {onDuplicate === 'REPLACE' ? 'Cancels the unfinished task, queues this one.' : 'Creates nothing; shows the task that holds the key.'}
            </small>
          </label>
        </div>

        <label className="field" htmlFor={ids.input}>
          <span>Input (JSON)</span>
          <textarea
            id={ids.input}
            name="input"
            className="mono"
            rows={8}
            spellCheck={false}
            value={input}
            onChange={(e) => {
              setInput(e.target.value);
              setInputTouched(true);
            }}
            aria-invalid={!inputCheck.ok}
            aria-describedby={`${ids.input}-msg`}
          />
          <small id={`${ids.input}-msg`} className={inputCheck.ok ? 'field-hint' : 'field-error'} data-testid="input-check">
            {inputCheck.ok ? (inputCheck.empty ? 'Empty: the task gets no input.' : 'Valid JSON.') : `Invalid JSON: ${inputCheck.message}`}
          </small>
        </label>

        <label className="field" htmlFor={ids.meta}>
          <span>Metadata (JSON, optional)</span>
          <textarea
            id={ids.meta}
            name="metadata"
            className="mono"
            rows={3}
            spellCheck={false}
            value={metadata}
            onChange={(e) => setMetadata(e.target.value)}
            placeholder='{ "requestedBy": "gm" }'
            aria-invalid={!metaCheck.ok}
            aria-describedby={`${ids.meta}-msg`}
          />
          <small id={`${ids.meta}-msg`} className={metaCheck.ok ? 'field-hint' : 'field-error'}>
            {metaCheck.ok ? 'Kept with the task for your own use.' : `Invalid JSON: ${metaCheck.message}`}
          </small>
        </label>

        {error && (
          <div id="submit-error">
            <ErrorNote>The node refused the task: {error}</ErrorNote>
          </div>
        )}
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy || (tried && !valid)}>
            {busy ? 'Submitting…' : 'Submit task'}
          </button>
          <Link to="/tasks" className="btn btn-ghost">
            Cancel
          </Link>
        </div>
      </form>
    </section>
  );
}
