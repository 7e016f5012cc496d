// Watches: subscriptions that keep going. A watch is sent again after the
// node ended it (it shut down, or dropped a subscriber that fell behind)
// or the connection was lost, with backoff; each time, once the node has
// opened it again (ArchivistClient.opened), it calls onResync so that the
// caller reads again what it may have missed, and misses nothing between.
// It ends only when stopped, or on an error that a new attempt would
// repeat (a refused key, a missing role, bad arguments).

import { backoffDelay, type ArchivistClient, type TypedDocument, type Unsubscribe } from './client.js';
import { ArchivistError } from './errors.js';

/** What a watch calls. */
export interface WatchHandlers<T> {
  /** Each change, in the order the node sent them. */
  onUpdate(value: T): void;
  /**
   * After the watch lost events (a reconnection, a restarted
   * subscription): read again what depends on them. The watches of one
   * object (watchTask, watchWorkflow) need not: the node sends the object
   * as it is first whenever their subscription starts.
   */
  onResync?(): void;
  /** The watch ended for good with this error. */
  onError?(err: ArchivistError): void;
}

/** Errors a new attempt would only repeat: the watch ends with them. */
const FINAL_CODES = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'DEPTH_LIMIT_EXCEEDED',
  'COMPLEXITY_LIMIT_EXCEEDED',
  'TOO_MANY_SUBSCRIPTIONS',
]);

/** Whether a watch ends on err (true) or tries again (false). */
export function isFinalError(err: ArchivistError): boolean {
  return FINAL_CODES.has(err.code);
}

/**
 * Runs the subscription of document until stopped, through reconnections
 * and restarts, calling onResync after each (see WatchHandlers).
 */
export function watch<TResult, TVariables, T>(
  client: ArchivistClient,
  document: TypedDocument<TResult, TVariables>,
  variables: TVariables | undefined,
  pick: (result: TResult) => T,
  handlers: WatchHandlers<T>,
): Unsubscribe {
  let stopped = false;
  let stopSub: Unsubscribe | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let failures = 0;

  const lost = () => {
    if (stopped) return;
    handlers.onResync?.();
  };
  const start = () => {
    stopSub = client.subscribe(document, variables, {
      next: (value) => {
        if (stopped) return;
        failures = 0;
        handlers.onUpdate(pick(value));
      },
      error: (err) => {
        stopSub = null;
        if (stopped) return;
        if (isFinalError(err)) {
          stopped = true;
          offReconnect();
          handlers.onError?.(err);
          return;
        }
        again();
      },
      complete: () => {
        stopSub = null;
        again();
      },
    });
  };
  const again = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = null;
      if (stopped) return;
      start();
      // Read again once the node has opened it: no change falls between.
      client.opened().then(lost, () => {});
    }, backoffDelay(failures++, 250, 10_000));
  };
  const offReconnect = client.onReconnect(lost);
  start();
  return () => {
    if (stopped) return;
    stopped = true;
    offReconnect();
    if (timer) clearTimeout(timer);
    stopSub?.();
  };
}
