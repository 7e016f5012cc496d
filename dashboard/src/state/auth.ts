// AuthController: whether the page shows the sign-in screen or the
// dashboard, and with which key. It asks the node for the session (with the
// key kept in sessionStorage, if any), keeps a key the node accepts, and
// opens the live connection (the `connect` it is given) only then. A key the
// node later refuses (revoked, or the node restarted with other keys) closes
// the connection and leads back to the sign-in screen with a message; a
// change of role on the node is taken at the next reconnection.
//
// It holds no React: the components read `view` through subscribe.

import {
  MESSAGES,
  clearKey,
  effectiveRole,
  gate,
  loadKey,
  normalizeKey,
  saveKey,
  type KeyStorage,
  type Role,
  type Session,
} from '../lib/auth';

/** What the live connection tells the controller. */
export interface LiveEvents {
  /** The node refused the key (a 4401 close, an UNAUTHENTICATED error). */
  authError(reason: string): void;
  /** The node refused an operation to the key's role: the role may have changed. */
  forbidden(message: string): void;
  /** The connection came back, or events were missed: the session may have changed. */
  resync(): void;
}

export interface AuthDeps<L> {
  /** sessionStorage, or null where it cannot be used. */
  storage: KeyStorage | null;
  /** The session query, with this key or none. Throws when the node cannot be reached. */
  fetchSession(key: string | null): Promise<Session>;
  /** Opens the live connection with this key. */
  connect(key: string | null, events: LiveEvents): L;
  /** The delay before the nth attempt to reach the node again. */
  retryDelay?(attempt: number): number;
}

export type AuthView<L> =
  | { phase: 'checking'; message: string | null }
  | { phase: 'unreachable'; error: string; retryAt: number; attempt: number }
  | { phase: 'sign-in'; session: Session; message: string | null; error: string | null; busy: boolean }
  | { phase: 'ready'; session: Session; role: Role; live: L };

export class AuthController<L extends { dispose(): void }> {
  view: AuthView<L> = { phase: 'checking', message: null };
  private readonly listeners = new Set<() => void>();
  /** The key in use; kept in storage too when the storage allows. */
  private key: string | null = null;
  private live: L | null = null;
  /** Bumped by every check and sign-in: a late answer of an earlier one is dropped. */
  private seq = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retryCheck: (() => void) | null = null;
  private stopped = false;

  constructor(private readonly deps: AuthDeps<L>) {}

  subscribe = (l: () => void): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };

  private set(view: AuthView<L>): void {
    this.view = view;
    for (const l of this.listeners) l();
  }

  /** Asks the node with the kept key, if any. */
  start(): void {
    this.stopped = false;
    void this.check(loadKey(this.deps.storage), null, 0);
  }

  /** Closes the connection and stops retrying. */
  stop(): void {
    this.stopped = true;
    this.seq++;
    this.cancelRetry();
    this.teardown();
  }

  /** While the node cannot be reached: try again now. */
  retryNow(): void {
    const again = this.retryCheck;
    this.cancelRetry();
    again?.();
  }

  /**
   * Asks the node for the session of key. The dashboard if it needs no key
   * or takes this one; else the sign-in screen, with message (and the kept
   * key dropped: the node refused it).
   */
  private async check(key: string | null, message: string | null, attempt: number): Promise<void> {
    const seq = ++this.seq;
    this.cancelRetry();
    if (this.view.phase !== 'unreachable') this.set({ phase: 'checking', message });
    let s: Session;
    try {
      s = await this.deps.fetchSession(key);
    } catch (err) {
      if (seq !== this.seq || this.stopped) return;
      const delay = this.deps.retryDelay?.(attempt) ?? Math.min(5000, 500 * 2 ** attempt);
      this.retryCheck = () => void this.check(key, message, attempt + 1);
      this.retryTimer = setTimeout(() => this.retryNow(), delay);
      this.set({ phase: 'unreachable', error: (err as Error).message, retryAt: Date.now() + delay, attempt: attempt + 1 });
      return;
    }
    if (seq !== this.seq || this.stopped) return;
    if (gate(s) === 'dashboard') {
      this.key = s.authRequired ? key : null;
      this.open(s);
      return;
    }
    if (key) clearKey(this.deps.storage);
    this.key = null;
    this.set({ phase: 'sign-in', session: s, message: key ? (message ?? MESSAGES.revoked) : message, error: null, busy: false });
  }

  /** Checks a key typed on the sign-in screen; keeps it if the node accepts it. */
  async signIn(input: string): Promise<void> {
    const v = this.view;
    if (v.phase !== 'sign-in' || v.busy) return;
    const key = normalizeKey(input);
    if (!key) {
      this.set({ ...v, error: MESSAGES.empty });
      return;
    }
    const seq = ++this.seq;
    this.set({ ...v, busy: true, error: null });
    let s: Session;
    try {
      s = await this.deps.fetchSession(key);
    } catch (err) {
      if (seq !== this.seq) return;
      this.set({ ...v, busy: false, error: (err as Error).message });
      return;
    }
    if (seq !== this.seq || this.stopped) return;
    if (!s.authRequired) {
      // The node needs no key (any more): go on without one.
      this.key = null;
      this.open(s);
      return;
    }
    if (gate(s) !== 'dashboard') {
      this.set({ ...v, session: s, busy: false, error: MESSAGES.rejected });
      return;
    }
    saveKey(this.deps.storage, key);
    this.key = key;
    this.open(s);
  }

  /** Forgets the key, closes the connection, and asks the node again without a key. */
  signOut(): void {
    clearKey(this.deps.storage);
    this.key = null;
    this.teardown();
    void this.check(null, MESSAGES.signedOut, 0);
  }

  /** Shows the dashboard with this session: opens the connection, or keeps the open one. */
  private open(s: Session): void {
    const role = effectiveRole(s) ?? 'VIEWER';
    if (this.live) {
      this.set({ phase: 'ready', session: s, role, live: this.live });
      return;
    }
    let live: L | null = null;
    const current = () => live !== null && live === this.live;
    live = this.deps.connect(this.key, {
      authError: () => {
        if (current()) this.lost();
      },
      forbidden: () => {
        if (current()) void this.refresh();
      },
      resync: () => {
        if (current()) void this.refresh();
      },
    });
    this.live = live;
    this.set({ phase: 'ready', session: s, role, live });
  }

  /** The node refused the key: close the connection, and ask it once more. */
  private lost(): void {
    this.teardown();
    void this.check(this.key, MESSAGES.revoked, 0);
  }

  /** Asks the session again while connected: the role, or whether the key still counts. */
  private async refresh(): Promise<void> {
    const live = this.live;
    const seq = this.seq;
    let s: Session;
    try {
      s = await this.deps.fetchSession(this.key);
    } catch {
      return; // offline: the connection's own banner says so
    }
    if (live !== this.live || seq !== this.seq || this.stopped || !live) return;
    if (gate(s) === 'dashboard') this.open(s);
    else this.lost();
  }

  private teardown(): void {
    const live = this.live;
    this.live = null;
    live?.dispose();
  }

  private cancelRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryCheck = null;
  }
}
