// DistributedProcessingDashboard: the application's frame: header with the
// connection state, the signed-in role and the theme toggle, the security
// banner of an insecure node, navigation, and the current view.

import { useEffect, useRef, useState } from 'react';

import type { ConnectionState } from '../service/types';
import { isLoopbackHost, roleName } from '../lib/auth';
import { useSession } from '../state/session';
import { StoreContext, useDashboard, type DashboardStore } from '../state/store';
import { Link, useRoute } from '../lib/router';
import { effectiveTheme, useTheme, type ThemeMode } from '../lib/theme';
import { AlertsBadge } from './Alerts';
import { ConfigView } from './ConfigView';
import { LimitList } from './LimitList';
import { NodeList } from './NodeList';
import { Overview } from './Overview';
import { ScheduleForm } from './ScheduleForm';
import { ScheduleList } from './ScheduleList';
import { TaskList } from './TaskList';
import { TaskStatusCard } from './TaskStatusCard';
import { TaskSubmitForm } from './TaskSubmitForm';
import { WorkflowList } from './WorkflowList';
import { WorkflowSubmitForm } from './WorkflowSubmitForm';
import { WorkflowView } from './WorkflowView';

export function DistributedProcessingDashboard({ store }: { store: DashboardStore }) {
  useEffect(() => {
    store.start();
    return () => store.stop();
  }, [store]);
  return (
    <StoreContext.Provider value={store}>
      <Shell />
    </StoreContext.Provider>
  );
}

const NAV: { to: string; label: string; short?: string; icon: string }[] = [
  { to: '/', label: 'Overview', icon: '◎' },
  { to: '/nodes', label: 'Nodes', icon: '▦' },
  { to: '/tasks', label: 'Tasks', icon: '☰' },
  { to: '/workflows', label: 'Workflows', short: 'Flows', icon: '⇶' },
  { to: '/schedules', label: 'Schedules', icon: '⟳' },
  { to: '/limits', label: 'Limits', icon: '⊘' },
  { to: '/config', label: 'Configuration', short: 'Config', icon: '⚙' },
];

function Shell() {
  const route = useRoute();
  const { view, title, section } = pick(route.path);
  const mainRef = useRef<HTMLElement>(null);
  const first = useRef(true);

  useEffect(() => {
    document.title = `${title} · Archivist`;
    // Move focus to the new view for keyboard and screen reader users (not
    // on the first load, where the page itself has focus; nor when a link
    // led to a part of the view, #alerts: that part takes the focus).
    if (first.current) first.current = false;
    else if (!window.location.hash) mainRef.current?.focus({ preventScroll: true });
  }, [route.path, title]);

  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand" aria-label="Archivist overview">
          <span className="brand-mark" aria-hidden="true">
            ◆
          </span>
          Archivist
        </Link>
        <nav className="nav" aria-label="Main">
          {NAV.map((n) => (
            <Link key={n.to} to={n.to} className="nav-link" aria-current={section === n.to ? 'page' : undefined}>
              <span aria-hidden="true" className="nav-icon">
                {n.icon}
              </span>
              {n.short ? (
                <>
                  <span className="nav-long">{n.label}</span>
                  <span className="nav-short">{n.short}</span>
                </>
              ) : (
                n.label
              )}
            </Link>
          ))}
        </nav>
        <div className="topbar-end">
          <AlertsBadge />
          <ConnectionIndicator />
          <SessionControl />
          <ThemeToggle />
        </div>
      </header>
      <InsecureBanner />
      <ConnectionBanner />
      <StoreBanner />
      <main id="main" ref={mainRef} tabIndex={-1} className="main">
        {view}
      </main>
    </div>
  );
}

function pick(path: string): { view: React.ReactNode; title: string; section: string } {
  if (path === '/' || path === '/overview') return { view: <Overview />, title: 'Overview', section: '/' };
  if (path === '/nodes') return { view: <NodeList />, title: 'Nodes', section: '/nodes' };
  if (path === '/tasks') return { view: <TaskList />, title: 'Tasks', section: '/tasks' };
  if (path === '/tasks/new') return { view: <TaskSubmitForm />, title: 'New task', section: '/tasks' };
  if (path.startsWith('/tasks/')) {
    const id = decodeURIComponent(path.slice('/tasks/'.length));
    return { view: <TaskStatusCard key={id} id={id} />, title: `Task ${id}`, section: '/tasks' };
  }
  if (path === '/schedules') return { view: <ScheduleList />, title: 'Schedules', section: '/schedules' };
  if (path === '/schedules/new') return { view: <ScheduleForm edit={false} />, title: 'New schedule', section: '/schedules' };
  if (path === '/schedules/edit') return { view: <ScheduleForm edit />, title: 'Edit schedule', section: '/schedules' };
  if (path === '/workflows') return { view: <WorkflowList />, title: 'Workflows', section: '/workflows' };
  if (path === '/workflows/new') return { view: <WorkflowSubmitForm />, title: 'New workflow', section: '/workflows' };
  if (path.startsWith('/workflows/')) {
    const id = decodeURIComponent(path.slice('/workflows/'.length));
    return { view: <WorkflowView key={id} id={id} />, title: `Workflow ${id}`, section: '/workflows' };
  }
  if (path === '/limits') return { view: <LimitList />, title: 'Limits', section: '/limits' };
  if (path === '/config') return { view: <ConfigView />, title: 'Configuration', section: '/config' };
  return {
    view: (
      <section>
        <h1>Not found</h1>
        <p>
          Nothing here. <Link to="/">Go to the overview</Link>.
        </p>
      </section>
    ),
    title: 'Not found',
    section: '',
  };
}

function connectionText(c: ConnectionState): string {
  switch (c.phase) {
    case 'online':
      return 'Live';
    case 'connecting':
      return 'Connecting…';
    case 'offline':
      return 'Offline';
  }
}

function ConnectionIndicator() {
  const c = useDashboard((s) => s.connection);
  return (
    <span className={`conn conn-${c.phase}`} data-testid="connection" data-state={c.phase} title={c.reason ?? undefined}>
      <span className="dot" aria-hidden="true" />
      {connectionText(c)}
    </span>
  );
}

function ConnectionBanner() {
  const c = useDashboard((s) => s.connection);
  const now = useDashboard((s) => s.now);
  const loadError = useDashboard((s) => s.loadError);
  const loaded = useDashboard((s) => s.loaded);
  const wasOffline = useRef(false);
  const [recovered, setRecovered] = useState<number | null>(null);

  useEffect(() => {
    if (c.phase === 'offline') wasOffline.current = true;
    if (c.phase === 'online' && wasOffline.current) {
      wasOffline.current = false;
      setRecovered(Date.now());
    }
  }, [c.phase]);

  if (c.phase === 'offline') {
    const wait = c.nextRetryAt ? Math.max(0, Math.ceil((c.nextRetryAt - Math.max(now, Date.now())) / 1000)) : null;
    return (
      <div className="banner banner-bad" role="alert" data-testid="connection-banner" data-state="offline">
        <strong>Connection to the node lost.</strong>{' '}
        {wait !== null && wait > 0 ? `Reconnecting in ${wait} s` : 'Reconnecting…'}
        {c.attempt > 0 ? ` (attempt ${c.attempt})` : ''}. Live updates are paused; what you see may be out of date.
      </div>
    );
  }
  if (c.phase === 'connecting' && !c.everConnected && loadError && !loaded) {
    return (
      <div className="banner banner-bad" role="alert" data-testid="connection-banner" data-state="connecting">
        <strong>Cannot reach the node.</strong> Retrying…
      </div>
    );
  }
  if (recovered !== null && now - recovered < 4000) {
    return (
      <div className="banner banner-ok" role="status" data-testid="connection-banner" data-state="recovered">
        Reconnected: the data was refreshed.
      </div>
    );
  }
  return null;
}

/**
 * While the node cannot reach its store (Redis down): says so, naming the
 * store, instead of letting every node look offline. What the views show is
 * the last state known; changes fail until the store is back.
 */
function StoreBanner() {
  const store = useDashboard((s) => s.store);
  const now = useDashboard((s) => s.now);
  const online = useDashboard((s) => s.connection.phase === 'online');
  if (store.reachable || !online) return null; // offline: the connection's banner says more
  const secs = store.since ? Math.max(0, Math.round((now - store.since) / 1000)) : 0;
  const what = store.message ? store.message.charAt(0).toUpperCase() + store.message.slice(1) : 'The store cannot be reached';
  return (
    <div className="banner banner-bad" role="alert" data-testid="store-banner" data-state="unreachable">
      <strong>{what}.</strong> The node runs, but cannot read or change the cluster&apos;s state: the data shown may be
      stale (as it was {secs < 2 ? 'a moment' : `${secs} s`} ago), and changes fail until the store is back.
    </div>
  );
}

/**
 * The role of the key the page signed in with, whether the connection is
 * encrypted, and sign-out. A node that needs no key shows nothing here.
 */
function SessionControl() {
  const { session, role, signOut } = useSession();
  if (!session.authRequired) return null;
  const encrypted = session.tls;
  const local = isLoopbackHost(window.location.hostname);
  const name = roleName(role);
  return (
    <span className="session" data-testid="session">
      <span
        className={`session-role role-${role.toLowerCase()}`}
        data-testid="session-role"
        data-role={role}
        title={`Signed in with ${role === 'ADMIN' ? 'an' : 'a'} ${name} key${encrypted ? ', over TLS' : ''}`}
      >
        <svg className="key-icon" viewBox="0 0 16 16" width="13" height="13" aria-hidden="true">
          <circle cx="5" cy="8" r="3" fill="none" stroke="currentColor" strokeWidth="1.8" />
          <path d="M8 8h7M12.5 8v3M14.5 8v2" fill="none" stroke="currentColor" strokeWidth="1.8" />
        </svg>
        {name}
      </span>
      {encrypted ? (
        <span className="transport transport-tls" data-testid="transport" data-tls="true" title="The API is served over TLS (https, wss)">
          TLS
        </span>
      ) : (
        !local && (
          <span className="transport transport-plain" data-testid="transport" data-tls="false" title="Plain HTTP: the key and the data cross the network in clear">
            not encrypted
          </span>
        )
      )}
      <button type="button" className="btn btn-ghost btn-small" onClick={signOut} data-testid="sign-out" title="Forget the key in this tab">
        Sign out
      </button>
    </span>
  );
}

/**
 * A loud, lasting warning while the node runs without keys beyond loopback
 * (--insecure), with the node's words; other warnings of the node, quieter.
 */
function InsecureBanner() {
  const { session } = useSession();
  if (!session.insecure && session.warnings.length === 0) return null;
  const text =
    session.warnings.length > 0 ? session.warnings : ['INSECURE: this node accepts every request without an API key.'];
  return (
    <div
      className={`banner ${session.insecure ? 'banner-insecure' : 'banner-warn'}`}
      role="alert"
      data-testid={session.insecure ? 'insecure-banner' : 'security-warnings'}
    >
      <span className="banner-icon" aria-hidden="true">
        ⚠
      </span>
      <div>
        {text.map((w) => (
          <p key={w}>{w}</p>
        ))}
      </div>
    </div>
  );
}

const NEXT: Record<ThemeMode, ThemeMode> = { system: 'light', light: 'dark', dark: 'system' };

function ThemeToggle() {
  const [mode, setMode] = useTheme();
  const shown = effectiveTheme(mode);
  const text = mode === 'system' ? `Theme: system (${shown})` : `Theme: ${mode}`;
  return (
    <button
      type="button"
      className="btn btn-ghost theme-toggle"
      onClick={() => setMode(NEXT[mode])}
      aria-label={`${text}. Switch to ${NEXT[mode]}`}
      title={`${text} — switch to ${NEXT[mode]}`}
      data-testid="theme-toggle"
      data-mode={mode}
    >
      <span aria-hidden="true">{shown === 'dark' ? '☾' : '☀'}</span>
      <span className="theme-label">{mode === 'system' ? 'Auto' : mode === 'dark' ? 'Dark' : 'Light'}</span>
    </button>
  );
}
