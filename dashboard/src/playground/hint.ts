// The line above GraphiQL that says whether the node needs an API key and
// how the playground gets one. Pure: main.tsx asks the node (the session
// query) and renders what this returns.

import type { Role } from '../lib/auth';

/** The part of the session query the line needs. */
export interface HintSession {
  authRequired: boolean;
  authenticated: boolean;
  role: Role | null;
  insecure: boolean;
  warnings: string[] | null;
}

/** A piece of the line: text, a link, or code. */
export type HintPart = string | { href: string; text: string } | { code: string };

/**
 * The line's state, as data-state on #archivist-auth (the browser tests
 * wait on it): unknown (no answer), open (no key needed), insecure (no key,
 * reachable beyond loopback), signed-in (the dashboard's key was taken),
 * rejected (the dashboard's key is no longer taken), signed-out (a key is
 * needed and none came).
 */
export type HintState = 'unknown' | 'open' | 'insecure' | 'signed-in' | 'rejected' | 'signed-out';

export interface Hint {
  state: HintState;
  /** The key's role, when signed in (data-role). */
  role?: Role;
  parts: HintPart[];
}

const header: HintPart = { code: '{"Authorization": "Bearer KEY"}' };
const dashboard: HintPart = { href: '/', text: 'dashboard' };

/** What the line says for a session answer (null: the node could not be asked); hasKey: the dashboard's key was sent. */
export function hintFor(s: HintSession | null, hasKey: boolean): Hint {
  if (!s) {
    return {
      state: 'unknown',
      parts: ['Could not ask the node whether it needs an API key. If it does, sign in on the ', dashboard,
        ' in this tab, or add ', header, ' under Headers.'],
    };
  }
  if (!s.authRequired) {
    if (s.insecure) {
      const warning = s.warnings && s.warnings.length > 0 ? s.warnings.join(' ') : 'INSECURE: this node needs no API key.';
      return { state: 'insecure', parts: [`\u26a0 ${warning}`] };
    }
    return { state: 'open', parts: ['This node needs no API key.'] };
  }
  if (s.authenticated && s.role) {
    return {
      state: 'signed-in',
      role: s.role,
      parts: [`Signed in as ${s.role.toLowerCase()} with the key of the `, dashboard,
        ' in this tab: sent as Authorization: Bearer, and in connection_init for subscriptions. Another key: add ',
        header, ' under Headers, or sign out on the dashboard.'],
    };
  }
  if (hasKey) {
    return {
      state: 'rejected',
      parts: ['The key of the dashboard is no longer accepted: sign in again on the ', dashboard,
        ' in this tab, then reload this page.'],
    };
  }
  return {
    state: 'signed-out',
    parts: ['This node needs an API key. Sign in on the ', dashboard,
      ' in this tab, then come back: the playground uses the same key. Or add ', header,
      ' under Headers (sent with requests and, for subscriptions, in connection_init).'],
  };
}
