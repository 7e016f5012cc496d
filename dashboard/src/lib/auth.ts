// API keys and roles, as the dashboard uses them: what each role may do,
// where the key is kept, and what a session answer means for the page. Pure
// functions: the network is in service/session.ts, the flow in
// state/auth.ts.

/** The role of an API key (graph/security.graphqls, ApiRole). Each may do what the ones before it may. */
export type Role = 'VIEWER' | 'OPERATOR' | 'ADMIN';

export const ROLES: readonly Role[] = ['VIEWER', 'OPERATOR', 'ADMIN'];

/** The caller's session on the node (the session query). */
export interface Session {
  authRequired: boolean;
  authenticated: boolean;
  /** null when a key is needed and no valid one came; ADMIN when the node needs no key. */
  role: Role | null;
  insecure: boolean;
  tls: boolean;
  warnings: string[];
}

/** What the dashboard lets a person do; each is one mutation of the API. */
export type Action =
  | 'submitTask'
  | 'cancelTask'
  | 'retryTask'
  | 'drainNode'
  | 'resumeNode'
  | 'updateConfig'
  | 'removeNode'
  | 'updateNode'
  | 'createSchedule'
  | 'updateSchedule'
  | 'pauseSchedule'
  | 'resumeSchedule'
  | 'deleteSchedule'
  | 'triggerSchedule'
  | 'submitWorkflow'
  | 'cancelWorkflow'
  | 'retryWorkflow'
  | 'cancelTasks'
  | 'retryTasks'
  | 'deleteTasks'
  | 'setLimit'
  | 'deleteLimit'
  | 'pauseTaskType'
  | 'resumeTaskType';

/**
 * The role each action needs. It mirrors the server's table (graph/auth.go,
 * mutationRoles), which decides: the dashboard only hides what would be
 * refused.
 */
export const ACTION_ROLE: Readonly<Record<Action, Role>> = {
  submitTask: 'OPERATOR',
  cancelTask: 'OPERATOR',
  retryTask: 'OPERATOR',
  drainNode: 'OPERATOR',
  resumeNode: 'OPERATOR',
  updateConfig: 'ADMIN',
  removeNode: 'ADMIN',
  updateNode: 'ADMIN',
  createSchedule: 'OPERATOR',
  updateSchedule: 'OPERATOR',
  pauseSchedule: 'OPERATOR',
  resumeSchedule: 'OPERATOR',
  deleteSchedule: 'OPERATOR',
  triggerSchedule: 'OPERATOR',
  submitWorkflow: 'OPERATOR',
  cancelWorkflow: 'OPERATOR',
  retryWorkflow: 'OPERATOR',
  cancelTasks: 'OPERATOR',
  retryTasks: 'OPERATOR',
  deleteTasks: 'ADMIN',
  setLimit: 'ADMIN',
  deleteLimit: 'ADMIN',
  pauseTaskType: 'OPERATOR',
  resumeTaskType: 'OPERATOR',
};

/** Whether a role is at least another. */
export function atLeast(role: Role | null, need: Role): boolean {
  return role !== null && ROLES.indexOf(role) >= ROLES.indexOf(need);
}

/** Whether a caller with this role may do the action. */
export function can(role: Role | null, action: Action): boolean {
  return atLeast(role, ACTION_ROLE[action]);
}

/** The role as the header shows it: "viewer", "operator", "admin". */
export function roleName(role: Role | null): string {
  return role ? role.toLowerCase() : 'signed out';
}

/** The role needed for an action, for messages: "an operator key". */
export function keyNeeded(action: Action): string {
  return ACTION_ROLE[action] === 'ADMIN' ? 'an admin key' : 'an operator key';
}

/** Where the key is kept: sessionStorage, this tab only (the playground reads it too). */
export const KEY_STORAGE_NAME = 'archivist.apiKey';

/** The part of the Storage API used here (sessionStorage, or a fake in tests). */
export type KeyStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

/** The kept key, or null. A storage that cannot be read (disabled) keeps none. */
export function loadKey(storage: KeyStorage | null): string | null {
  try {
    const k = storage?.getItem(KEY_STORAGE_NAME);
    return k ? k : null;
  } catch {
    return null;
  }
}

/** Keeps the key; false when the storage refused it (the key then lasts until a reload). */
export function saveKey(storage: KeyStorage | null, key: string): boolean {
  try {
    storage?.setItem(KEY_STORAGE_NAME, key);
    return storage !== null;
  } catch {
    return false;
  }
}

export function clearKey(storage: KeyStorage | null): void {
  try {
    storage?.removeItem(KEY_STORAGE_NAME);
  } catch {
    // nothing kept
  }
}

/** A key as typed or pasted: surrounding space and a pasted "Bearer " go. */
export function normalizeKey(input: string): string {
  return input.trim().replace(/^bearer\s+/i, '').trim();
}

/** The HTTP headers that carry a key (none without one). */
export function authHeaders(key: string | null): Record<string, string> {
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** The WebSocket's connection_init payload for a key (empty without one). */
export function connectionParams(key: string | null): Record<string, string> {
  return authHeaders(key);
}

/** The close code of a WebSocket the server refused for its key. */
export const CLOSE_UNAUTHORIZED = 4401;

/** The error codes of the API (extensions.code) that concern the key. */
export const CODE_UNAUTHENTICATED = 'UNAUTHENTICATED';
export const CODE_FORBIDDEN = 'FORBIDDEN';

/** What the page shows for a session answer. */
export type Gate = 'dashboard' | 'sign-in';

/** The dashboard when the node needs no key or the key was accepted; else the sign-in screen. */
export function gate(s: Session): Gate {
  return !s.authRequired || (s.authenticated && s.role !== null) ? 'dashboard' : 'sign-in';
}

/** The role the page acts with: ADMIN when the node needs no key. */
export function effectiveRole(s: Session): Role | null {
  if (!s.authRequired) return 'ADMIN';
  return s.authenticated ? s.role : null;
}

/** Whether a host name is this machine (where plain HTTP crosses no network). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Messages of the sign-in screen. */
export const MESSAGES = {
  rejected: 'That key was not accepted',
  signedOut: 'You signed out. The key was removed from this tab.',
  revoked:
    'This node no longer accepts your key (it was revoked, or the node restarted with other keys). Sign in again.',
  empty: 'Enter an API key',
} as const;
