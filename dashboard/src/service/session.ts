// The session query over plain HTTP, before any DistributedProcessingService
// exists: whether the node needs a key, and what a key may do. It is asked
// alone in its operation, which the node answers without a key.

import { authHeaders, type Session } from '../lib/auth';
import { SESSION_QUERY } from './operations';

/** The node could not be reached, or did not answer with a session. */
export class SessionUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SessionUnavailableError';
  }
}

type FetchLike = (input: string, init: RequestInit) => Promise<Pick<Response, 'ok' | 'status' | 'json'>>;

/** Asks the node for the session of this key (or of no key). */
export async function fetchSession(
  key: string | null,
  opts: { url?: string; fetch?: FetchLike; signal?: AbortSignal } = {},
): Promise<Session> {
  const doFetch: FetchLike = opts.fetch ?? ((input, init) => fetch(input, init));
  let res: Awaited<ReturnType<FetchLike>>;
  try {
    res = await doFetch(opts.url ?? '/graphql', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...authHeaders(key) },
      body: JSON.stringify({ query: SESSION_QUERY, operationName: 'Session' }),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: opts.signal,
    });
  } catch (err) {
    throw new SessionUnavailableError(`Cannot reach the node (${(err as Error).message})`);
  }
  let body: { data?: { session?: Session | null } | null; errors?: { message: string }[] };
  try {
    body = (await res.json()) as typeof body;
  } catch {
    throw new SessionUnavailableError(`The node answered ${res.status}, not GraphQL`);
  }
  const s = body.data?.session;
  if (!s) {
    throw new SessionUnavailableError(body.errors?.[0]?.message ?? `The node answered ${res.status} without a session`);
  }
  return { ...s, warnings: s.warnings ?? [] };
}
