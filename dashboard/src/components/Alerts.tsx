// Alerts: the header's count of firing alerts (on every view), and the
// Overview's list of them: firing first, then the recently resolved ones.
// Alerts come from the node the page talks to (every node evaluates the
// rules), loaded with the snapshot and kept current by alertUpdated.

import { useEffect, useMemo, useRef, useState } from 'react';

import type { Alert, ProcessingNode } from '../service/types';
import { firingSummary } from '../state/reducers';
import { useDashboard } from '../state/store';
import { between, clock, duration, label } from '../lib/format';
import { Link } from '../lib/router';
import { Ago } from './common';

const RULE_LABELS: Record<string, string> = {
  node_offline: 'Node offline',
  failure_rate: 'Failure rate',
  pending_too_old: 'Task pending too long',
  node_busy: 'Node busy',
};

export function ruleLabel(rule: string): string {
  return RULE_LABELS[rule] ?? label(rule);
}

/** critical: red, warning: amber, anything else: blue. */
export function severityTone(severity: string): string {
  return severity === 'critical' ? 'bad' : severity === 'warning' ? 'warn' : 'info';
}

function firingText(firing: number, critical: number): string {
  if (firing === 0) return 'No alert firing';
  return `${firing} alert${firing === 1 ? '' : 's'} firing${critical > 0 ? `, ${critical} critical` : ''}`;
}

/** The header's badge: how many alerts fire, coloured by the worst; a link to the Overview's list. */
export function AlertsBadge() {
  const alerts = useDashboard((s) => s.alerts);
  const live = useDashboard((s) => s.connection.phase === 'online');
  const { firing, critical } = useMemo(() => firingSummary(alerts), [alerts]);
  const tone = critical > 0 ? 'bad' : firing > 0 ? 'warn' : 'none';
  const text = firingText(firing, critical);
  // Announced to screen readers when it changes (not on the first render).
  const [announce, setAnnounce] = useState('');
  const first = useRef(true);
  useEffect(() => {
    if (first.current) first.current = false;
    else setAnnounce(text);
  }, [text]);

  return (
    <>
      <Link
        to="/#alerts"
        className={`alerts-badge level-${tone}${live ? '' : ' stale'}`}
        data-testid="alerts-badge"
        data-count={firing}
        data-critical={critical}
        aria-label={`${text}${live ? '' : ' (may be out of date)'}. Show the alerts`}
        title={live ? text : `${text} (may be out of date: not connected)`}
      >
        <span aria-hidden="true" className="alerts-icon">
          {firing > 0 ? '⚠' : '✓'}
        </span>
        <span className="alerts-count">{firing}</span>
        <span className="alerts-label">{firing === 1 ? 'alert' : 'alerts'}</span>
      </Link>
      <span className="sr-only" role="status">
        {announce}
      </span>
    </>
  );
}

const RESOLVED_SHOWN = 5;

/** The Overview's Alerts card (id "alerts": the header's badge leads here). */
export function AlertsSection() {
  const alerts = useDashboard((s) => s.alerts);
  const nodes = useDashboard((s) => s.nodes);
  const loaded = useDashboard((s) => s.loaded);
  const live = useDashboard((s) => s.connection.phase === 'online');
  const [showAll, setShowAll] = useState(false);
  const ref = useRef<HTMLElement>(null);

  const firing = alerts.filter((a) => a.status === 'FIRING');
  const resolved = alerts.filter((a) => a.status === 'RESOLVED');
  const critical = firing.filter((a) => a.severity === 'critical').length;
  const shownResolved = showAll ? resolved : resolved.slice(0, RESOLVED_SHOWN);

  // Opened at /#alerts (a bookmark, a reload): show the list once loaded.
  useEffect(() => {
    if (loaded && window.location.hash === '#alerts') ref.current?.scrollIntoView({ block: 'start' });
  }, [loaded]);

  return (
    <section
      ref={ref}
      id="alerts"
      tabIndex={-1}
      className={`card alerts-card${live ? '' : ' stale'}`}
      aria-labelledby="alerts-title"
      data-testid="alerts"
    >
      <h2 id="alerts-title" className="alerts-title">
        Alerts{' '}
        <span className="muted small" data-testid="alerts-summary">
          {firingText(firing.length, critical)}
          {resolved.length > 0 && ` · ${resolved.length} resolved recently`}
        </span>
      </h2>
      {firing.length === 0 ? (
        <p className="alerts-none" data-testid="alerts-none">
          <span aria-hidden="true">✓</span> {loaded ? 'All clear: no alert rule is firing.' : 'Loading…'}
        </p>
      ) : (
        <ul className="alert-list" aria-label="Firing alerts">
          {firing.map((a) => (
            <AlertItem key={`${a.id}@${a.startedAt}`} alert={a} node={nodes[a.subject]} />
          ))}
        </ul>
      )}
      {resolved.length > 0 && (
        <>
          <h3 className="alerts-sub" id="alerts-resolved-title">
            Recently resolved
          </h3>
          <ul className="alert-list" aria-labelledby="alerts-resolved-title" id="alerts-resolved">
            {shownResolved.map((a) => (
              <AlertItem key={`${a.id}@${a.startedAt}`} alert={a} node={nodes[a.subject]} />
            ))}
          </ul>
          {resolved.length > RESOLVED_SHOWN && (
            <button
              type="button"
              className="btn btn-small btn-ghost alerts-more"
              aria-expanded={showAll}
              aria-controls="alerts-resolved"
              onClick={() => setShowAll(!showAll)}
            >
              {showAll ? 'Show fewer' : `Show all ${resolved.length} resolved`}
            </button>
          )}
        </>
      )}
    </section>
  );
}

function AlertItem({ alert: a, node }: { alert: Alert; node: ProcessingNode | undefined }) {
  const firing = a.status === 'FIRING';
  const tone = severityTone(a.severity);
  return (
    <li
      className={`alert-item tone-${tone} ${firing ? 'is-firing' : 'is-resolved'}`}
      data-testid="alert"
      data-alert-id={a.id}
      data-started-at={a.startedAt}
      data-status={a.status}
      data-rule={a.rule}
      data-subject={a.subject}
      data-severity={a.severity}
    >
      <div className="alert-head">
        {firing ? (
          <span className={`badge tone-${tone}`}>
            <span className="dot" aria-hidden="true" />
            {label(a.severity)}
          </span>
        ) : (
          <span className="badge tone-ok">
            <span aria-hidden="true">✓</span> Resolved
          </span>
        )}
        <span className="alert-rule" title={`Rule ${a.rule}`}>
          {ruleLabel(a.rule)}
        </span>
        <span className="alert-subject">
          <Subject subject={a.subject} node={node} />
        </span>
        {!firing && <span className={`alert-sev-text sev-${tone}`}>{label(a.severity)}</span>}
      </div>
      <p className="alert-message">{a.message}</p>
      <p className="alert-times">
        <span>
          Started{' '}
          <time dateTime={a.startedAt} title={a.startedAt}>
            {clock(a.startedAt)}
          </time>{' '}
          (<Ago iso={a.startedAt} />)
        </span>
        {!firing && (
          <>
            <span>
              resolved{' '}
              <time dateTime={a.resolvedAt ?? undefined} title={a.resolvedAt ?? undefined}>
                {clock(a.resolvedAt)}
              </time>{' '}
              (<Ago iso={a.resolvedAt} />)
            </span>
            <span>lasted {duration(between(a.startedAt, a.resolvedAt, Date.now()))}</span>
          </>
        )}
      </p>
    </li>
  );
}

/** A node (linked to its card) when the subject is one the cluster lists, else the subject as it is. */
function Subject({ subject, node }: { subject: string; node: ProcessingNode | undefined }) {
  if (node) {
    return (
      <>
        <Link to={`/nodes#node-${encodeURIComponent(node.id)}`} data-testid="alert-node-link" title={`Node ${node.id}: show its card`}>
          {node.name}
        </Link>
        {node.name !== node.id && <span className="mono muted small"> {node.id}</span>}
      </>
    );
  }
  if (subject === 'cluster') return <span>Cluster</span>;
  return (
    <span className="mono" title="Not a node the cluster lists now">
      {subject}
    </span>
  );
}
