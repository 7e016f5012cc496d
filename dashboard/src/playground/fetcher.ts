// GraphiQL's fetcher for the node: queries and mutations over HTTP POST,
// subscriptions over a WebSocket with the graphql-transport-ws protocol
// (graphql-ws). The dashboard's key goes as the Authorization header and in
// connection_init (a browser cannot set headers on a WebSocket); headers
// typed in GraphiQL's Headers editor go on top, for both.

import { getOperationAST, Kind, parse, type DocumentNode, type FormattedExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';

/** One operation as GraphiQL hands it over. */
export interface OperationParams {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

/** What GraphiQL adds: the Headers editor's object (and more, unused here). */
export interface OperationOptions {
  headers?: Record<string, unknown>;
}

export interface FetcherConfig {
  /** http(s)://host/graphql */
  url: string;
  /** ws(s)://host/graphql */
  subscriptionUrl: string;
  /** Sent with every operation: the dashboard's key (may be empty). */
  headers: Record<string, string>;
  /** Stands in for window.fetch and graphql-ws's client in tests. */
  fetch?: typeof fetch;
  createClient?: typeof createClient;
}

/** The headers of an operation: the fixed ones, then the editor's on top (as strings). */
export function mergeHeaders(fixed: Record<string, string>, typed: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = { ...fixed };
  for (const [name, value] of Object.entries(typed ?? {})) {
    if (value === undefined || value === null) continue;
    // A typed header replaces a fixed one whatever its case (authorization vs Authorization).
    for (const k of Object.keys(out)) if (k.toLowerCase() === name.toLowerCase()) delete out[k];
    out[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

/**
 * The operation to run, as GraphiQL hands it over but with the operation
 * name checked against the query: GraphiQL updates the name a moment after
 * an edit, so a query run at once can come with the name of the one before
 * ("operation Beats not found"). A document of one operation runs that one.
 * subscription: whether it is a subscription. The query is parsed here, not
 * taken from GraphiQL's parsed document, which lags the same way.
 */
export function resolveOperation(params: OperationParams): { params: OperationParams; subscription: boolean } {
  let doc: DocumentNode;
  try {
    doc = parse(params.query);
  } catch {
    return { params, subscription: false }; // the node answers the syntax error, over HTTP
  }
  const ops = doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  let name = params.operationName ?? undefined;
  if (name && ops.length === 1 && ops[0].name?.value !== name) name = ops[0].name?.value;
  const op = getOperationAST(doc, name);
  return { params: { ...params, operationName: name ?? null }, subscription: op?.operation === 'subscription' };
}

/** Whether the operation GraphiQL runs is a subscription. */
export function isSubscription(params: OperationParams): boolean {
  return resolveOperation(params).subscription;
}

/** An error GraphiQL can show, from what graphql-ws throws (a CloseEvent, an Error, a list of GraphQL errors). */
export function asError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'number') {
    const { code, reason } = err as { code: number; reason?: string };
    const why = code === 4401 ? ' (the node did not accept the key: see the line above)' : '';
    return new Error(`The WebSocket closed: ${code} ${reason ?? ''}`.trim() + why);
  }
  if (Array.isArray(err)) return new Error(err.map((e) => (e && typeof e === 'object' && 'message' in e ? String(e.message) : String(e))).join('; '));
  return new Error(String(err));
}

/** Clients kept at once, one per set of connection parameters; older ones are closed. */
const MAX_CLIENTS = 4;

/**
 * The fetcher GraphiQL calls. Its return is a promise of a result (HTTP) or
 * an async iterable of results (a subscription, until GraphiQL stops it).
 */
export function createFetcher(cfg: FetcherConfig) {
  const doFetch = cfg.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => window.fetch(input, init));
  const newClient = cfg.createClient ?? createClient;
  // One lazy client per connection_init payload: it opens its socket at
  // the first subscription and closes it after the last one.
  const clients = new Map<string, Client>();
  const clientFor = (params: Record<string, string>): Client => {
    const id = JSON.stringify(params);
    let c = clients.get(id);
    if (c) {
      clients.delete(id);
      clients.set(id, c); // most recently used last
      return c;
    }
    c = newClient({ url: cfg.subscriptionUrl, connectionParams: params, lazy: true, retryAttempts: 0 });
    clients.set(id, c);
    for (const [old, oc] of clients) {
      if (clients.size <= MAX_CLIENTS) break;
      clients.delete(old);
      void oc.dispose();
    }
    return c;
  };

  return (given: OperationParams, opts?: OperationOptions) => {
    const headers = mergeHeaders(cfg.headers, opts?.headers);
    const { params, subscription } = resolveOperation(given);
    if (subscription) {
      return subscribe(clientFor(headers), params);
    }
    return post(doFetch, cfg.url, headers, params);
  };
}

async function post(doFetch: typeof fetch, url: string, headers: Record<string, string>, params: OperationParams): Promise<FormattedExecutionResult> {
  const res = await doFetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify(params),
    credentials: 'same-origin',
  });
  const text = await res.text();
  try {
    return JSON.parse(text) as FormattedExecutionResult;
  } catch {
    throw new Error(`HTTP ${res.status}: ${text.slice(0, 300)}`);
  }
}

async function* subscribe(client: Client, params: OperationParams) {
  const results = client.iterate({
    query: params.query,
    operationName: params.operationName ?? undefined,
    variables: params.variables ?? undefined,
  });
  try {
    for await (const r of results) yield r;
  } catch (err) {
    throw asError(err);
  } finally {
    // GraphiQL's stop button ends this generator: end the subscription too.
    await results.return?.();
  }
}
