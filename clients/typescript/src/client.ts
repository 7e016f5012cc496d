// The connection to a node: GraphQL requests over HTTP (fetch), and
// subscriptions over one WebSocket (graphql-ws, the graphql-transport-ws
// protocol) that reconnects with backoff and says when it did, so that what
// a screen shows can be read again (events sent while it was away are not
// replayed).

import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
import { createClient as createWSClient, type Client as WSClient } from 'graphql-ws';

import { ArchivistError, NetworkError, type GraphQLErrorEntry } from './errors.js';

/** A typed GraphQL document: one of this package's, or any generated with the typed-document-node plugin. */
export type TypedDocument<TResult, TVariables> = DocumentTypeDecoration<TResult, TVariables> & {
  toString(): string;
};

/**
 * A document of your own, typed by hand: for an operation this package
 * does not have, when generating types for it is not worth it.
 */
export function typedDocument<TResult, TVariables = Record<string, unknown>>(source: string): TypedDocument<TResult, TVariables> {
  return { toString: () => source } as TypedDocument<TResult, TVariables>;
}

/** Options of createClient. */
export interface ClientOptions {
  /** The node's GraphQL endpoint, as http(s)://host:port/graphql. */
  url: string;
  /** The WebSocket endpoint; by default url with ws(s):// for http(s)://. */
  wsUrl?: string;
  /**
   * The API key (archivist token create), or a function that returns the
   * current one (asked again at every request and reconnection). Sent as
   * Authorization: Bearer over HTTP and in the WebSocket's connection_init.
   */
  apiKey?: string | null | (() => string | null | undefined);
  /**
   * Headers sent with every HTTP request, or a function that returns them
   * for each request: a traced app returns its current span's
   * `traceparent`, which makes the tasks it submits part of its trace
   * (see docs/tracing.md).
   */
  headers?: Record<string, string> | (() => Record<string, string>);
  /**
   * The W3C traceparent of the app's current span, asked at each request
   * and subscription: sent as the traceparent header over HTTP and in the
   * operation's extensions over the WebSocket (whose headers a browser
   * cannot set), so that what the request does, the tasks it submits
   * included, joins the app's trace on a node that traces.
   */
  traceparent?: () => string | null | undefined;
  /** The fetch to use (default: the global one). */
  fetch?: typeof globalThis.fetch;
  /**
   * The WebSocket class to use (default: the global one, which browsers and
   * Node.js 22 have). On Node.js 20, pass the ws package's:
   * `import WebSocket from 'ws'` then `webSocketImpl: WebSocket`.
   */
  webSocketImpl?: unknown;
  /** Reconnection delays: from baseMs (default 500) doubling to maxMs (default 10000), plus up to 30 % jitter. */
  reconnect?: { baseMs?: number; maxMs?: number };
  /** How often the client pings the node over the WebSocket, in ms (default 10000; 0: never). */
  keepAliveMs?: number;
  /**
   * How long a ping may wait for its pong before the socket is taken as
   * dead and closed (4408), to reconnect, in ms (default 5000; 0: no
   * limit). It catches a connection that died without a word (a pulled
   * cable, a frozen peer), which TCP would notice only much later.
   */
  pongTimeoutMs?: number;
  /**
   * false: open the WebSocket at once and keep it open (reconnecting) even
   * without subscriptions, for a screen that shows whether it is connected.
   * Default true: opened with the first subscription, closed a second after
   * the last.
   */
  lazy?: boolean;
}

/** Where the WebSocket is: idle (none needed: lazy, no subscription), connecting, online, offline (lost; retrying). */
export type ConnectionPhase = 'idle' | 'connecting' | 'online' | 'offline';

/** The WebSocket's state, for a screen that shows it (onConnectionChange). */
export interface ConnectionState {
  phase: ConnectionPhase;
  /** Whether the socket was ever up: a later 'connecting' is a reconnection. */
  everConnected: boolean;
  /** Reconnection attempts since the socket went down (0 while online). */
  attempt: number;
  /** When the next reconnection attempt starts (ms since the epoch), while offline. */
  nextRetryAt: number | null;
  /** When the current phase started (ms since the epoch). */
  since: number;
  /** Why the socket closed, when it did ("closed (1006)", "closed (4401: ...)"). */
  reason: string | null;
  /** The close code, when it closed: 4401 is a refused key (not retried). */
  closeCode: number | null;
}

/** What a subscription calls. */
export interface Sink<T> {
  next(value: T): void;
  /** The subscription ended with an error; nothing follows. */
  error?(err: ArchivistError): void;
  /** The node ended the subscription; nothing follows. */
  complete?(): void;
}

/** Stops a subscription or a watch. */
export type Unsubscribe = () => void;

/** The query opened() sends over the WebSocket: answered by any node, in any role. */
const OPENED_QUERY = 'query ArchivistOpened { __typename }';

/** The delay before reconnection attempt n (from 0): base doubling to max, plus up to 30 % jitter. */
export function backoffDelay(attempt: number, baseMs = 500, maxMs = 10_000, random: () => number = Math.random): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(d * (1 + 0.3 * random()));
}

interface CloseLike {
  code: number;
  reason?: string;
}

function isCloseLike(v: unknown): v is CloseLike {
  return typeof v === 'object' && v !== null && 'code' in v && typeof (v as CloseLike).code === 'number';
}

/** The error a subscription ended with, as graphql-ws reports it: GraphQL errors, a close event or an Error. */
export function subscriptionError(err: unknown): ArchivistError {
  if (err instanceof ArchivistError) return err;
  if (Array.isArray(err)) return ArchivistError.fromGraphQL(err as GraphQLErrorEntry[]);
  if (isCloseLike(err)) {
    const why = `WebSocket closed ${err.code}${err.reason ? `: ${err.reason}` : ''}`;
    if (err.code === 4401) return new ArchivistError(`the node refused the key (${why})`, 'UNAUTHENTICATED');
    if (err.code === 4403) return new ArchivistError(`forbidden (${why})`, 'FORBIDDEN');
    return new NetworkError(`cannot reach the node (${why})`, { cause: err });
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new NetworkError(`cannot reach the node (${msg})`, { cause: err });
}

/**
 * A client of one node. Create it once and share it: HTTP requests are
 * independent, and all subscriptions share one WebSocket, opened with the
 * first and closed a moment after the last.
 */
export class ArchivistClient {
  readonly url: string;
  readonly wsUrl: string;
  private readonly options: ClientOptions;
  private ws: WSClient | null = null;
  private readonly reconnectListeners = new Set<() => void>();
  private readonly connectionListeners = new Set<(s: ConnectionState) => void>();
  private state: ConnectionState = {
    phase: 'idle',
    everConnected: false,
    attempt: 0,
    nextRetryAt: null,
    since: Date.now(),
    reason: null,
    closeCode: null,
  };
  private pongTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  /** Subscriptions started and not ended (opened() needs no socket without one). */
  private active = 0;

  constructor(options: ClientOptions) {
    if (!options?.url) throw new TypeError('createClient: url is required (http://host:port/graphql)');
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw new TypeError(`createClient: url ${JSON.stringify(options.url)} is not an absolute http(s) URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new TypeError(`createClient: url must be http:// or https://, not ${parsed.protocol}`);
    }
    this.options = options;
    this.url = parsed.toString();
    this.wsUrl = options.wsUrl ?? this.url.replace(/^http/, 'ws');
    if (options.lazy === false) this.socket();
  }

  private key(): string | null {
    const k = typeof this.options.apiKey === 'function' ? this.options.apiKey() : this.options.apiKey;
    return k || null;
  }

  /**
   * Runs a query or mutation over HTTP and returns its data; throws an
   * ArchivistError with the API's code when the answer holds errors, a
   * NetworkError when there is no answer.
   */
  async request<TResult, TVariables>(
    document: TypedDocument<TResult, TVariables>,
    variables?: TVariables,
    init?: { signal?: AbortSignal },
  ): Promise<TResult> {
    if (this.closed) throw new ArchivistError('the client is closed', 'NETWORK_ERROR');
    const fetchImpl = this.options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') throw new TypeError('no fetch in this runtime: pass one in createClient({ fetch })');
    const extra = typeof this.options.headers === 'function' ? this.options.headers() : this.options.headers;
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      Accept: 'application/graphql-response+json, application/json',
      ...extra,
    };
    const key = this.key();
    if (key) headers.Authorization = `Bearer ${key}`;
    const tp = this.options.traceparent?.();
    if (tp) headers.traceparent = tp;
    let res: Response;
    try {
      res = await fetchImpl(this.url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query: document.toString(), variables: variables ?? {} }),
        signal: init?.signal,
      });
    } catch (err) {
      if (init?.signal?.aborted) throw err;
      throw new NetworkError(`cannot reach the node at ${this.url} (${err instanceof Error ? err.message : String(err)})`, { cause: err });
    }
    const text = await res.text();
    let body: { data?: TResult | null; errors?: GraphQLErrorEntry[] };
    try {
      body = JSON.parse(text);
    } catch {
      throw new NetworkError(`the node answered ${res.status} ${res.statusText} without GraphQL: ${text.slice(0, 200)}`, {
        status: res.status,
      });
    }
    if (body.errors && body.errors.length > 0) {
      const header = Number(res.headers.get('Retry-After') ?? Number.NaN);
      throw ArchivistError.fromGraphQL(body.errors, res.status, Number.isFinite(header) ? header : undefined);
    }
    if (body.data == null) throw new NetworkError(`the node answered ${res.status} without data`, { status: res.status });
    return body.data;
  }

  private socket(): WSClient {
    if (this.ws) return this.ws;
    const impl = this.options.webSocketImpl ?? (globalThis as { WebSocket?: unknown }).WebSocket;
    if (!impl) {
      throw new TypeError(
        'no WebSocket in this runtime (Node.js 20 has none built in): pass one in createClient({ webSocketImpl }), e.g. the ws package',
      );
    }
    const base = this.options.reconnect?.baseMs ?? 500;
    const max = this.options.reconnect?.maxMs ?? 10_000;
    const pongTimeout = this.options.pongTimeoutMs ?? 5000;
    let socket: { readyState: number; close(code?: number, reason?: string): void } | null = null;
    const clearPong = () => {
      if (this.pongTimer) clearTimeout(this.pongTimer);
      this.pongTimer = null;
    };
    this.ws = createWSClient({
      url: this.wsUrl,
      webSocketImpl: impl,
      lazy: this.options.lazy !== false,
      lazyCloseTimeout: 1000,
      keepAlive: this.options.keepAliveMs ?? 10_000,
      retryAttempts: Number.POSITIVE_INFINITY,
      retryWait: async (retries) => {
        const delay = backoffDelay(retries, base, max);
        this.setState({ attempt: retries + 1, nextRetryAt: Date.now() + delay });
        await new Promise((resolve) => setTimeout(resolve, delay));
        this.setState({ nextRetryAt: null });
      },
      // Retry on any close (graphql-ws never retries a refused key, 4401),
      // and on an Error, which is how some runtimes report a refused upgrade.
      shouldRetry: () => true,
      // A non-lazy socket's final error (a refused key) is in the state.
      onNonLazyError: () => {},
      connectionParams: () => {
        const key = this.key();
        return key ? { Authorization: `Bearer ${key}` } : {};
      },
      on: {
        connecting: () => this.setState({ phase: 'connecting', since: Date.now() }),
        connected: (s, _payload, wasRetry) => {
          socket = s as typeof socket;
          this.setState({ phase: 'online', everConnected: true, attempt: 0, nextRetryAt: null, since: Date.now(), reason: null, closeCode: null });
          if (!wasRetry) return;
          // The listeners read again what the subscriptions missed: once
          // the node has opened them all on the new socket, so that no
          // change falls between what they read and what the subscriptions
          // send. graphql-ws sends the subscriptions again once this
          // returns (on microtasks): the fence goes after them.
          setTimeout(() => {
            this.opened().then(
              () => {
                for (const l of [...this.reconnectListeners]) {
                  try {
                    l();
                  } catch (err) {
                    console.error('archivist client: a reconnect listener failed:', err);
                  }
                }
              },
              () => {}, // closed meanwhile: no one to tell
            );
          }, 0);
        },
        closed: (event) => {
          socket = null;
          clearPong();
          const code = isCloseLike(event) ? event.code : null;
          const reason = code === null ? 'closed' : `closed (${code}${(event as CloseLike).reason ? `: ${(event as CloseLike).reason}` : ''})`;
          // A lazy socket closed for want of subscriptions is idle, not lost.
          const idle = code === 1000 && this.options.lazy !== false;
          this.setState({ phase: idle ? 'idle' : 'offline', since: Date.now(), reason: idle ? null : reason, closeCode: idle ? null : code });
        },
        ping: (received) => {
          if (received || pongTimeout <= 0) return;
          // Our ping: the pong must come back soon, or the socket is dead
          // without having said so.
          clearPong();
          this.pongTimer = setTimeout(() => {
            if (socket && socket.readyState === 1) socket.close(4408, 'pong timeout');
          }, pongTimeout);
        },
        pong: (received) => {
          if (received) clearPong();
        },
      },
    });
    return this.ws;
  }

  private setState(patch: Partial<ConnectionState>): void {
    if (this.closed) return;
    this.state = { ...this.state, ...patch };
    for (const l of [...this.connectionListeners]) l(this.state);
  }

  /** The WebSocket's state now. */
  connection(): ConnectionState {
    return this.state;
  }

  /** Calls listener with every change of the WebSocket's state; returns the function that removes it. */
  onConnectionChange(listener: (state: ConnectionState) => void): Unsubscribe {
    this.connectionListeners.add(listener);
    return () => this.connectionListeners.delete(listener);
  }

  /**
   * Starts a subscription; returns the function that stops it. The
   * subscription survives reconnections (it is sent again on the new
   * socket), but events that happened while the socket was down are not
   * replayed: listen to onReconnect to read the state again, or use the
   * watch functions, which do.
   */
  subscribe<TResult, TVariables>(
    document: TypedDocument<TResult, TVariables>,
    variables: TVariables | undefined,
    sink: Sink<TResult>,
  ): Unsubscribe {
    if (this.closed) {
      sink.error?.(new ArchivistError('the client is closed', 'NETWORK_ERROR'));
      return () => {};
    }
    let ws: WSClient;
    try {
      ws = this.socket();
    } catch (err) {
      sink.error?.(new NetworkError(err instanceof Error ? err.message : String(err), { cause: err }));
      return () => {};
    }
    let done = false;
    this.active++;
    const finish = () => {
      done = true;
      this.active--;
    };
    const tp = this.options.traceparent?.();
    const stop = ws.subscribe<TResult>(
      {
        query: document.toString(),
        variables: (variables ?? {}) as Record<string, unknown>,
        ...(tp ? { extensions: { traceparent: tp } } : {}),
      },
      {
        next: (value) => {
          if (done) return;
          if (value.data == null && value.errors && value.errors.length > 0) {
            finish();
            stop();
            sink.error?.(ArchivistError.fromGraphQL(value.errors as GraphQLErrorEntry[]));
            return;
          }
          if (value.data != null) sink.next(value.data as TResult);
        },
        error: (err) => {
          if (done) return;
          finish();
          sink.error?.(subscriptionError(err));
        },
        complete: () => {
          if (done) return;
          finish();
          sink.complete?.();
        },
      },
    );
    return () => {
      if (done) return;
      finish();
      stop();
    };
  }

  /**
   * Resolves once the node has opened every subscription started before
   * the call (on the WebSocket, across a reconnection if one is under way).
   * It sends a query over the socket after them, and the node starts the
   * operations of one socket in the order they were sent: a subscription
   * is open, and gets every change from then on, before the next operation
   * is answered. So state read after opened() resolves, together with what
   * the subscriptions send, misses no change. Resolves at once when no
   * subscription is going; rejects only when the client is closed.
   */
  opened(): Promise<void> {
    if (this.closed) return Promise.reject(new ArchivistError('the client is closed', 'NETWORK_ERROR'));
    if (!this.ws || this.active === 0) return Promise.resolve();
    const ws = this.ws;
    return new Promise((resolve, reject) => {
      // graphql-ws sends it again after a reconnection, as it does the
      // subscriptions before it; an error answer still says that the node
      // got to it.
      ws.subscribe({ query: OPENED_QUERY }, { next: () => {}, error: (err) => (this.closed ? reject(subscriptionError(err)) : resolve()), complete: () => resolve() });
    });
  }

  /**
   * Calls listener each time the WebSocket comes back after it was lost
   * (the node restarted, the network dropped): the subscriptions go on,
   * and what they missed should be read again. It is called once the node
   * has opened them again (see opened), so that what the listener reads
   * misses no change. Returns the function that removes it.
   */
  onReconnect(listener: () => void): Unsubscribe {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  /** Ends every subscription and closes the WebSocket; requests fail afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    const ws = this.ws;
    this.ws = null;
    this.reconnectListeners.clear();
    this.connectionListeners.clear();
    if (this.pongTimer) clearTimeout(this.pongTimer);
    // dispose waits for a connection in progress, and rejects when that one
    // fails (a refused key): nothing is left to do about it.
    await Promise.resolve(ws?.dispose()).catch(() => {});
  }
}

/** Creates a client of the node at options.url. */
export function createClient(options: ClientOptions): ArchivistClient {
  return new ArchivistClient(options);
}
