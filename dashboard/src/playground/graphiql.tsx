// GraphiQL itself, loaded by main.tsx as a chunk of its own so that the
// status line works, and a failure to load GraphiQL can be told, apart
// from it.

import './workers';
import 'graphiql/style.css';

import { Component, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL, type GraphiQLProps } from 'graphiql';

import { createFetcher } from './fetcher';
import { headerlessStorage } from './storage';

/** Shows a message instead of a blank page when GraphiQL throws while rendering. */
class Guard extends Component<{ children: ReactNode }, { error: Error | null }> {
  state = { error: null as Error | null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  render() {
    if (this.state.error) {
      return (
        <div className="archivist-loading" role="alert" data-state="failed">
          GraphiQL stopped with an error: {this.state.error.message}. Reload the page; the API is at /graphql.
        </div>
      );
    }
    return this.props.children;
  }
}

/** Renders GraphiQL into el, talking to the node at endpoint with these headers. */
export function mountGraphiQL(el: HTMLElement, endpoint: string, headers: Record<string, string>): void {
  const ws = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const fetcher = createFetcher({
    url: `${location.protocol}//${location.host}${endpoint}`,
    subscriptionUrl: `${ws}//${location.host}${endpoint}`,
    headers,
  });
  let storage: ReturnType<typeof headerlessStorage> | undefined;
  try {
    storage = headerlessStorage(window.localStorage);
  } catch {
    storage = undefined; // storage off: GraphiQL keeps nothing
  }
  createRoot(el).render(
    <Guard>
      <GraphiQL
        // GraphiQL types results as graphql-js's ExecutionResult (errors as
        // GraphQLError objects); a server sends their JSON form, which
        // GraphiQL shows as it is.
        fetcher={fetcher as unknown as GraphiQLProps['fetcher']}
        isHeadersEditorEnabled
        // Headers typed in the editor (a key) stay out of localStorage:
        // neither the editor's content nor the history's copy of them.
        shouldPersistHeaders={false}
        storage={storage}
        inputValueDeprecation
      />
    </Guard>,
  );
}
