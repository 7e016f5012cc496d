import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { KEY_STORAGE_NAME, MESSAGES, type Session } from '../lib/auth';
import { AuthController, type LiveEvents } from './auth';
import { FakeStorage } from '../testing/fakeStorage';

const KEYS: Record<string, Session['role']> = { 'viewer-key-0123456789': 'VIEWER', 'operator-key-0123456789': 'OPERATOR' };

/** A node: its keys, reachable or not. */
class FakeNode {
  keys: Record<string, Session['role']> | null = { ...KEYS };
  down = false;
  asked: (string | null)[] = [];
  async session(key: string | null): Promise<Session> {
    this.asked.push(key);
    if (this.down) throw new Error('Cannot reach the node (connection refused)');
    if (!this.keys) return { authRequired: false, authenticated: false, role: 'ADMIN', insecure: false, tls: false, warnings: [] };
    const role = key ? (this.keys[key] ?? null) : null;
    return { authRequired: true, authenticated: role !== null, role, insecure: false, tls: false, warnings: [] };
  }
}

interface Live {
  key: string | null;
  events: LiveEvents;
  disposed: boolean;
  dispose(): void;
}

function setup(stored?: string) {
  const node = new FakeNode();
  const storage = new FakeStorage();
  if (stored) storage.setItem(KEY_STORAGE_NAME, stored);
  const lives: Live[] = [];
  const c = new AuthController<Live>({
    storage,
    fetchSession: (k) => node.session(k),
    connect(key, events) {
      const l: Live = { key, events, disposed: false, dispose: () => (l.disposed = true) };
      lives.push(l);
      return l;
    },
    retryDelay: () => 1000,
  });
  return { node, storage, lives, c };
}

const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('AuthController', () => {
  it('shows the dashboard as admin when the node needs no key', async () => {
    const { node, c, lives } = setup();
    node.keys = null;
    c.start();
    await settle();
    expect(c.view).toMatchObject({ phase: 'ready', role: 'ADMIN' });
    expect(lives).toHaveLength(1);
    expect(lives[0].key).toBeNull();
  });

  it('asks for a key, refuses a wrong one, keeps a right one', async () => {
    const { c, storage, lives } = setup();
    c.start();
    await settle();
    expect(c.view).toMatchObject({ phase: 'sign-in', message: null, error: null });
    expect(lives).toHaveLength(0);

    await c.signIn('not-a-key-at-all-000');
    expect(c.view).toMatchObject({ phase: 'sign-in', error: MESSAGES.rejected, busy: false });
    expect(storage.items.size).toBe(0);

    await c.signIn('  ');
    expect(c.view).toMatchObject({ phase: 'sign-in', error: MESSAGES.empty });

    await c.signIn(' Bearer operator-key-0123456789 ');
    expect(c.view).toMatchObject({ phase: 'ready', role: 'OPERATOR' });
    expect(storage.getItem(KEY_STORAGE_NAME)).toBe('operator-key-0123456789');
    expect(lives).toHaveLength(1);
    expect(lives[0].key).toBe('operator-key-0123456789');
  });

  it('uses the kept key after a reload', async () => {
    const { c, lives, node } = setup('viewer-key-0123456789');
    c.start();
    await settle();
    expect(c.view).toMatchObject({ phase: 'ready', role: 'VIEWER' });
    expect(node.asked).toEqual(['viewer-key-0123456789']);
    expect(lives[0].key).toBe('viewer-key-0123456789');
  });

  it('drops a kept key the node no longer takes, and says so', async () => {
    const { c, storage } = setup('revoked-key-0123456789');
    c.start();
    await settle();
    expect(c.view).toMatchObject({ phase: 'sign-in', message: MESSAGES.revoked });
    expect(storage.items.size).toBe(0);
  });

  it('signs out: forgets the key, closes the connection, asks again', async () => {
    const { c, storage, lives, node } = setup('operator-key-0123456789');
    c.start();
    await settle();
    c.signOut();
    expect(storage.items.size).toBe(0);
    expect(lives[0].disposed).toBe(true);
    await settle();
    expect(c.view).toMatchObject({ phase: 'sign-in', message: MESSAGES.signedOut });
    expect(node.asked[node.asked.length - 1]).toBeNull();
  });

  it('returns to the sign-in screen when the node refuses the key later (4401)', async () => {
    const { c, lives, node, storage } = setup('operator-key-0123456789');
    c.start();
    await settle();
    node.keys = { 'another-key-0123456789': 'ADMIN' }; // restarted with other keys
    lives[0].events.authError('closed (4401)');
    expect(lives[0].disposed).toBe(true);
    await settle();
    expect(c.view).toMatchObject({ phase: 'sign-in', message: MESSAGES.revoked });
    expect(storage.items.size).toBe(0);
    // A second report of the same closed connection changes nothing.
    lives[0].events.authError('UNAUTHENTICATED');
    await settle();
    expect(c.view.phase).toBe('sign-in');
    expect(lives).toHaveLength(1);
  });

  it('reconnects when a refusal was not about the key after all', async () => {
    const { c, lives } = setup('operator-key-0123456789');
    c.start();
    await settle();
    lives[0].events.authError('closed (4401)');
    await settle();
    expect(c.view).toMatchObject({ phase: 'ready', role: 'OPERATOR' });
    expect(lives).toHaveLength(2);
    expect(lives[1].disposed).toBe(false);
  });

  it('follows a role change at a resync, keeping the connection', async () => {
    const { c, lives, node } = setup('operator-key-0123456789');
    c.start();
    await settle();
    node.keys = { 'operator-key-0123456789': 'VIEWER' };
    lives[0].events.resync();
    await settle();
    expect(c.view).toMatchObject({ phase: 'ready', role: 'VIEWER' });
    expect(lives).toHaveLength(1);
    // FORBIDDEN asks again too; a key gone leads to the sign-in screen.
    node.keys = {};
    lives[0].events.forbidden('this operation needs the operator role');
    await settle();
    expect(c.view).toMatchObject({ phase: 'sign-in', message: MESSAGES.revoked });
  });

  it('retries while the node cannot be reached, then goes on', async () => {
    const { c, node } = setup('viewer-key-0123456789');
    node.down = true;
    c.start();
    await settle();
    expect(c.view).toMatchObject({ phase: 'unreachable', attempt: 1 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(c.view).toMatchObject({ phase: 'unreachable', attempt: 2 });
    node.down = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(c.view).toMatchObject({ phase: 'ready', role: 'VIEWER' });
  });

  it('shows why a sign-in could not be checked', async () => {
    const { c, node } = setup();
    c.start();
    await settle();
    node.down = true;
    await c.signIn('viewer-key-0123456789');
    expect(c.view).toMatchObject({ phase: 'sign-in', busy: false });
    expect(c.view.phase === 'sign-in' && c.view.error).toMatch(/Cannot reach the node/);
  });
});
