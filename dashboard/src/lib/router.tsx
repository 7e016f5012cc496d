// A small client-side router over the History API: the node serves
// index.html for every path without a file extension, so /tasks/ID can be
// opened, reloaded and bookmarked.

import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

const listeners = new Set<() => void>();

function subscribe(l: () => void): () => void {
  listeners.add(l);
  const onPop = () => l();
  window.addEventListener('popstate', onPop);
  return () => {
    listeners.delete(l);
    window.removeEventListener('popstate', onPop);
  };
}

function snapshot(): string {
  return window.location.pathname + window.location.search;
}

/** Goes to a path of the dashboard without reloading the page. */
export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === snapshot()) return;
  if (opts.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  for (const l of listeners) l();
  if (!opts.replace) window.scrollTo(0, 0);
}

export interface Route {
  path: string;
  query: URLSearchParams;
}

/** The current path and query; the component renders again when they change. */
export function useRoute(): Route {
  const s = useSyncExternalStore(subscribe, snapshot);
  const u = new URL(s, 'http://x');
  return { path: u.pathname.replace(/\/+$/, '') || '/', query: u.searchParams };
}

/** An <a> that navigates in the page; modified clicks (new tab) work as usual. */
export function Link({ to, onClick, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={handle} {...rest} />;
}
