import { describe, expect, it } from 'vitest';

import {
  ACTION_ROLE,
  KEY_STORAGE_NAME,
  authHeaders,
  can,
  clearKey,
  connectionParams,
  effectiveRole,
  gate,
  isLoopbackHost,
  loadKey,
  normalizeKey,
  roleName,
  saveKey,
  type Action,
  type Role,
  type Session,
} from './auth';
import { FakeStorage } from '../testing/fakeStorage';

const ACTIONS = Object.keys(ACTION_ROLE) as Action[];

function allowed(role: Role | null): Action[] {
  return ACTIONS.filter((a) => can(role, a)).sort();
}

describe('roles', () => {
  it('a viewer may do no action', () => {
    expect(allowed('VIEWER')).toEqual([]);
  });

  it('an operator runs tasks, workflows, schedules and nodes, not the configuration nor removal', () => {
    expect(allowed('OPERATOR')).toEqual([
      'cancelTask',
      'cancelTasks',
      'cancelWorkflow',
      'createSchedule',
      'deleteSchedule',
      'drainNode',
      'pauseSchedule',
      'pauseTaskType',
      'resumeNode',
      'resumeSchedule',
      'resumeTaskType',
      'retryTask',
      'retryTasks',
      'retryWorkflow',
      'submitTask',
      'submitWorkflow',
      'triggerSchedule',
      'updateSchedule',
    ]);
    expect(can('OPERATOR', 'updateConfig')).toBe(false);
    expect(can('OPERATOR', 'removeNode')).toBe(false);
    expect(can('OPERATOR', 'deleteTasks')).toBe(false);
    expect(can('OPERATOR', 'setLimit')).toBe(false);
    expect(can('OPERATOR', 'deleteLimit')).toBe(false);
  });

  it('an admin may do everything', () => {
    expect(allowed('ADMIN')).toEqual([...ACTIONS].sort());
  });

  it('no role may do nothing', () => {
    expect(allowed(null)).toEqual([]);
  });

  it('names the role in lower case', () => {
    expect(roleName('OPERATOR')).toBe('operator');
    expect(roleName(null)).toBe('signed out');
  });
});

const session = (p: Partial<Session>): Session => ({
  authRequired: true,
  authenticated: false,
  role: null,
  insecure: false,
  tls: false,
  warnings: [],
  ...p,
});

describe('gate', () => {
  it('shows the dashboard when the node needs no key, as admin', () => {
    const s = session({ authRequired: false, role: 'ADMIN' });
    expect(gate(s)).toBe('dashboard');
    expect(effectiveRole(s)).toBe('ADMIN');
  });

  it('asks for a key when one is needed and none was accepted', () => {
    const s = session({});
    expect(gate(s)).toBe('sign-in');
    expect(effectiveRole(s)).toBeNull();
  });

  it('shows the dashboard with the role of an accepted key', () => {
    const s = session({ authenticated: true, role: 'VIEWER' });
    expect(gate(s)).toBe('dashboard');
    expect(effectiveRole(s)).toBe('VIEWER');
  });
});

describe('the kept key', () => {
  it('is saved, read and cleared under one name', () => {
    const st = new FakeStorage();
    expect(loadKey(st)).toBeNull();
    expect(saveKey(st, 'k-0123456789abcdef')).toBe(true);
    expect(st.items.get(KEY_STORAGE_NAME)).toBe('k-0123456789abcdef');
    expect(loadKey(st)).toBe('k-0123456789abcdef');
    clearKey(st);
    expect(loadKey(st)).toBeNull();
  });

  it('survives a storage that throws', () => {
    const broken = {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('denied');
      },
      removeItem: () => {
        throw new Error('denied');
      },
    };
    expect(loadKey(broken)).toBeNull();
    expect(saveKey(broken, 'x')).toBe(false);
    expect(() => clearKey(broken)).not.toThrow();
    expect(loadKey(null)).toBeNull();
    expect(saveKey(null, 'x')).toBe(false);
  });

  it('is normalised from what was pasted', () => {
    expect(normalizeKey('  abc  ')).toBe('abc');
    expect(normalizeKey('Bearer abc')).toBe('abc');
    expect(normalizeKey('bearer   abc ')).toBe('abc');
    expect(normalizeKey('   ')).toBe('');
  });

  it('goes in the Authorization header and connection_init', () => {
    expect(authHeaders('k')).toEqual({ Authorization: 'Bearer k' });
    expect(authHeaders(null)).toEqual({});
    expect(connectionParams('k')).toEqual({ Authorization: 'Bearer k' });
    expect(connectionParams(null)).toEqual({});
  });
});

describe('isLoopbackHost', () => {
  it('knows this machine', () => {
    for (const h of ['localhost', '127.0.0.1', '127.3.2.1', '[::1]', '::1', 'app.localhost']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['example.com', '10.0.0.1', '0.0.0.0', '192.168.1.2', '127.example.com']) expect(isLoopbackHost(h), h).toBe(false);
  });
});

describe('ACTION_ROLE', () => {
  it('matches the role table of the server (graph/auth.go)', async () => {
    const { readFileSync } = await import('node:fs');
    const src = readFileSync(new URL('../../../graph/auth.go', import.meta.url), 'utf8');
    const table = src.slice(src.indexOf('var mutationRoles'), src.indexOf('}', src.indexOf('var mutationRoles')));
    const server = Object.fromEntries([...table.matchAll(/"(\w+)":\s*auth\.(\w+)/g)].map((m) => [m[1], m[2].toUpperCase()]));
    for (const a of ACTIONS) expect(server[a], a).toBe(ACTION_ROLE[a]);
  });
});
