// Small shared pieces: badges, progress bars, buttons that run an action.

import { useState, type ReactNode } from 'react';

import type { NodeStatus, TaskPriority, TaskStatus, WorkflowStatus } from '../service/types';
import { keyNeeded, roleName, type Action } from '../lib/auth';
import { useSession } from '../state/session';
import { useDashboard } from '../state/store';
import { ago, between, dueIn, duration, label, timestamp } from '../lib/format';

const TASK_TONE: Record<TaskStatus, string> = {
  SCHEDULED: 'sched',
  WAITING: 'waiting',
  PENDING: 'neutral',
  ASSIGNED: 'info',
  IN_PROGRESS: 'info',
  RETRYING: 'warn',
  COMPLETED: 'ok',
  FAILED: 'bad',
  CANCELLED: 'muted',
  TIMED_OUT: 'bad',
};

const NODE_TONE: Record<NodeStatus, string> = {
  ONLINE: 'ok',
  BUSY: 'warn',
  DRAINING: 'info',
  OFFLINE: 'bad',
};

export function taskTone(s: TaskStatus): string {
  return TASK_TONE[s];
}

export function nodeTone(s: NodeStatus): string {
  return NODE_TONE[s];
}

export function TaskStatusBadge({ status }: { status: TaskStatus }) {
  return (
    <span className={`badge tone-${TASK_TONE[status]}`} data-status={status}>
      <span className="dot" aria-hidden="true" />
      {label(status)}
    </span>
  );
}

const WORKFLOW_TONE: Record<WorkflowStatus, string> = {
  RUNNING: 'info',
  COMPLETED: 'ok',
  FAILED: 'bad',
  CANCELLED: 'muted',
};

export function workflowTone(s: WorkflowStatus): string {
  return WORKFLOW_TONE[s];
}

export function WorkflowStatusBadge({ status }: { status: WorkflowStatus }) {
  return (
    <span className={`badge tone-${WORKFLOW_TONE[status]}`} data-status={status}>
      <span className="dot" aria-hidden="true" />
      {label(status)}
    </span>
  );
}

export function NodeStatusBadge({ status }: { status: NodeStatus }) {
  return (
    <span className={`badge tone-${NODE_TONE[status]}`} data-status={status}>
      <span className="dot" aria-hidden="true" />
      {label(status)}
    </span>
  );
}

export function PriorityBadge({ priority }: { priority: TaskPriority }) {
  return <span className={`priority priority-${priority.toLowerCase()}`}>{label(priority)}</span>;
}

export function ProgressBar({ value, label: text, tone }: { value: number; label: string; tone?: string }) {
  const pct = Math.round(Math.min(1, Math.max(0, value)) * 100);
  return (
    <div
      className={`progress${tone ? ` tone-${tone}` : ''}`}
      role="progressbar"
      aria-label={text}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={pct}
    >
      <span style={{ width: `${pct}%` }} />
    </div>
  );
}

/** A button that runs an async action, shows that it runs, and shows its error. */
export function ActionButton({
  onRun,
  children,
  className = '',
  disabled,
  title,
  busyLabel,
}: {
  onRun: () => Promise<unknown>;
  children: ReactNode;
  className?: string;
  disabled?: boolean;
  title?: string;
  busyLabel?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await onRun();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span className="action">
      <button type="button" className={`btn ${className}`} onClick={run} disabled={disabled || busy} title={title} aria-busy={busy}>
        {busy && busyLabel ? busyLabel : children}
      </button>
      {error && (
        <span className="action-error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}

/** Says that the signed-in key's role may not do this, and which key may. */
export function NotAllowed({ action, children }: { action: Action; children: ReactNode }) {
  const { role } = useSession();
  return (
    <div className="note note-info" role="note" data-testid="not-allowed" data-action={action}>
      {children} Your key is {role === 'ADMIN' || role === 'OPERATOR' ? 'an' : 'a'} {roleName(role)} key: this needs {keyNeeded(action)}.
    </div>
  );
}

export function ErrorNote({ children }: { children: ReactNode }) {
  return (
    <div className="note note-error" role="alert">
      {children}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

/** Server time now, to the second: components using it render once a second. */
function useServerNow(): number {
  return useDashboard((s) => Math.floor((s.now - s.clockOffset) / 1000) * 1000);
}

/**
 * "5 s ago", kept current by the clock: only this element renders again
 * every second, not the row or card around it.
 */
export function Ago({ iso, title }: { iso: string | null | undefined; title?: string }) {
  const now = useServerNow();
  return (
    <time dateTime={iso ?? undefined} title={title ?? iso ?? undefined}>
      {ago(iso, now)}
    </time>
  );
}

/**
 * "in 5 min" until a time (a SCHEDULED task's runAt, a schedule's next
 * tick), with the absolute time on hover; kept current by the clock.
 */
export function Due({ iso, testId }: { iso: string | null | undefined; testId?: string }) {
  // Renders once a second with the clock; reads the time when it renders,
  // since a due time a few seconds ahead is off by the tick's age otherwise.
  useServerNow();
  const offset = useDashboard((s) => s.clockOffset);
  if (!iso) return <span className="muted">—</span>;
  return (
    <time dateTime={iso} title={timestamp(iso)} data-testid={testId} className="due">
      {dueIn(iso, Date.now() - offset)}
    </time>
  );
}

/** The time from `from` to `to`, or to now while `to` is unset (a running task). */
export function Elapsed({ from, to, running }: { from: string | null | undefined; to: string | null | undefined; running: boolean }) {
  if (!from) return <>—</>;
  return running ? <RunningElapsed from={from} /> : <>{duration(between(from, to, Date.now()))}</>;
}

function RunningElapsed({ from }: { from: string }) {
  const now = useServerNow();
  return <>{duration(between(from, null, now))}</>;
}

/** A labelled text input for a number, with its error (or, without one, a
 * hint) below it, tied to the input for screen readers. */
export function NumberField({
  id,
  name,
  label: text,
  value,
  onChange,
  placeholder,
  error,
  hint,
  decimal,
}: {
  id: string;
  name: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  placeholder?: string;
  error?: string | null;
  hint?: string;
  /** Fractions allowed (the decimal keypad on phones). */
  decimal?: boolean;
}) {
  const note = error ?? hint;
  return (
    <label className="field" htmlFor={id}>
      <span>{text}</span>
      <input
        id={id}
        name={name}
        inputMode={decimal ? 'decimal' : 'numeric'}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        placeholder={placeholder}
        aria-invalid={!!error}
        aria-describedby={note ? `${id}-msg` : undefined}
      />
      {note && (
        <small className={error ? 'field-error' : 'field-hint'} id={`${id}-msg`}>
          {note}
        </small>
      )}
    </label>
  );
}
