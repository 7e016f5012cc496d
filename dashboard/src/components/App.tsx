// App: the page before and around the dashboard. It asks the node whether it
// needs an API key (AuthController), shows the sign-in screen when it does
// and none was accepted yet, and otherwise the dashboard with the session
// (role, sign-out) in context.

import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore, type FormEvent } from 'react';

import { MESSAGES, isLoopbackHost, type Session } from '../lib/auth';
import type { AuthController, AuthView } from '../state/auth';
import { SessionContext, type SessionInfo } from '../state/session';
import type { DashboardStore } from '../state/store';
import { DistributedProcessingDashboard } from './DistributedProcessingDashboard';

/** The live connection the controller opens: the store, fed by its service. */
export interface LiveDashboard {
  store: DashboardStore;
  dispose(): void;
}

export function App({ controller }: { controller: AuthController<LiveDashboard> }) {
  const view = useSyncExternalStore(controller.subscribe, () => controller.view);
  const signOut = useCallback(() => controller.signOut(), [controller]);
  const info = useMemo<SessionInfo | null>(
    () => (view.phase === 'ready' ? { session: view.session, role: view.role, signOut } : null),
    [view, signOut],
  );

  switch (view.phase) {
    case 'ready':
      return (
        <SessionContext.Provider value={info!}>
          <DistributedProcessingDashboard store={view.live.store} />
        </SessionContext.Provider>
      );
    case 'sign-in':
      return <SignIn view={view} onSignIn={(key) => controller.signIn(key)} />;
    case 'unreachable':
      return <Unreachable view={view} onRetry={() => controller.retryNow()} />;
    case 'checking':
      return (
        <Gatepage title="Archivist">
          <p className="muted" role="status" aria-live="polite" data-testid="checking">
            {view.message ?? 'Connecting to the node…'}
          </p>
        </Gatepage>
      );
  }
}

/** The frame of the screens shown before the dashboard. */
function Gatepage({ title, children }: { title: string; children: React.ReactNode }) {
  useEffect(() => {
    document.title = title === 'Archivist' ? title : `${title} · Archivist`;
  }, [title]);
  return (
    <div className="gate">
      <main id="main" className="gate-card card">
        <p className="brand gate-brand">
          <span className="brand-mark" aria-hidden="true">
            ◆
          </span>
          Archivist
        </p>
        {children}
      </main>
    </div>
  );
}

function SignIn({
  view,
  onSignIn,
}: {
  view: Extract<AuthView<LiveDashboard>, { phase: 'sign-in' }>;
  onSignIn: (key: string) => Promise<void>;
}) {
  const [key, setKey] = useState('');
  const [show, setShow] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    input.current?.focus();
  }, []);
  // A refused key stays in the field, selected, to be typed over.
  useEffect(() => {
    if (view.error) input.current?.select();
  }, [view.error]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void onSignIn(key);
  };
  const clear = view.message === MESSAGES.signedOut;

  return (
    <Gatepage title="Sign in">
      <h1 id="signin-title">Sign in</h1>
      <p className="muted">This node needs an API key to show its cluster.</p>
      {view.message && (
        <div className={`note ${clear ? 'note-ok' : 'note-warn'}`} role="status" data-testid="signin-message">
          {view.message}
        </div>
      )}
      <form className="form signin-form" onSubmit={submit} aria-labelledby="signin-title" noValidate>
        <label className="field" htmlFor="api-key">
          <span>API key</span>
          <input
            ref={input}
            id="api-key"
            name="apiKey"
            type={show ? 'text' : 'password'}
            autoComplete="off"
            autoCapitalize="off"
            spellCheck={false}
            value={key}
            onChange={(e) => setKey(e.target.value)}
            aria-invalid={!!view.error}
            aria-describedby="api-key-msg"
            className="mono"
          />
          {view.error ? (
            <small id="api-key-msg" className="field-error" role="alert" data-testid="signin-error">
              {view.error}
            </small>
          ) : (
            <small id="api-key-msg" className="field-hint">
              Sent as <code>Authorization: Bearer</code>; kept in this tab only.
            </small>
          )}
        </label>
        <label className="check">
          <input type="checkbox" checked={show} onChange={(e) => setShow(e.target.checked)} /> Show the key
        </label>
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={view.busy} aria-busy={view.busy}>
            {view.busy ? 'Checking…' : 'Sign in'}
          </button>
        </div>
      </form>
      <TransportNote session={view.session} />
      <div className="gate-help muted small">
        <p>
          <strong>No key?</strong> An admin makes one with <code>archivist token create --role viewer</code> (or{' '}
          <code>operator</code>, <code>admin</code>) and admits it on the nodes with <code>--api-keys-file</code>. A viewer
          key reads; an operator key also submits, cancels and retries tasks and drains nodes; an admin key also changes
          the configuration and removes nodes.
        </p>
        <p>
          The key stays in this browser tab (sessionStorage) until you sign out or close the tab. The{' '}
          <a href="/playground">GraphQL playground</a>, opened in this tab, uses it too.
        </p>
      </div>
    </Gatepage>
  );
}

/** A key sent over plain HTTP beyond this machine can be read on the way. */
function TransportNote({ session }: { session: Session }) {
  if (session.tls || isLoopbackHost(window.location.hostname)) return null;
  return (
    <div className="note note-warn" data-testid="transport-warning">
      This connection is not encrypted: the key crosses the network in clear. Ask for the node to be served over TLS
      (<code>--tls-cert</code>, <code>--tls-key</code>).
    </div>
  );
}

function Unreachable({
  view,
  onRetry,
}: {
  view: Extract<AuthView<LiveDashboard>, { phase: 'unreachable' }>;
  onRetry: () => void;
}) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, []);
  const wait = Math.max(0, Math.ceil((view.retryAt - now) / 1000));
  return (
    <Gatepage title="Cannot reach the node">
      <h1>Cannot reach the node</h1>
      <div className="note note-error" role="alert" data-testid="unreachable">
        {view.error}
      </div>
      <p className="muted" role="status">
        {wait > 0 ? `Trying again in ${wait} s` : 'Trying again…'} (attempt {view.attempt}).
      </p>
      <button type="button" className="btn" onClick={onRetry}>
        Try now
      </button>
    </Gatepage>
  );
}
