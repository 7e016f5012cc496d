// GraphiQL itself, loaded by main.tsx as a chunk of its own so that the
// status line works, and a failure to load GraphiQL can be told, apart
// from it.

import './workers';
import 'graphiql/style.css';

import { Component, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';

import { createFetcher } from './fetcher';

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
  createRoot(el).render(
    <Guard>
      <GraphiQL
        fetcher={fetcher as never}
        isHeadersEditorEnabled
        // Headers typed in the editor (a key) stay out of localStorage.
        shouldPersistHeaders={false}
        inputValueDeprecation
      />
    </Guard>,
  );
}
