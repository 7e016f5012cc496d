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

/**
 * Goes to a path of the dashboard without reloading the page. A path with a
 * #fragment (/#alerts) shows that element of the new view: scrolled to, and
 * focused if it can take focus (else the main region is), even when the
 * page is already there.
 */
export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  const at = to.indexOf('#');
  const hash = at >= 0 ? to.slice(at + 1) : '';
  const here = snapshot() + (hash ? window.location.hash : '');
  if (to !== here) {
    if (opts.replace) window.history.replaceState(null, '', to);
    else window.history.pushState(null, '', to);
    for (const l of listeners) l();
  }
  if (opts.replace) return;
  if (hash) revealElement(decodeURIComponent(hash));
  else if (to !== here) window.scrollTo(0, 0);
}

/**
 * Scrolls to the element with this id once the view rendered it (waiting
 * a few frames for it), and moves the keyboard focus there.
 */
function revealElement(id: string, frames = 30): void {
  requestAnimationFrame(() => {
    const el = document.getElementById(id);
    if (!el) {
      if (frames > 0) revealElement(id, frames - 1);
      else document.getElementById('main')?.focus({ preventScroll: true });
      return;
    }
    const focusable = el.tabIndex >= 0 || el.hasAttribute('tabindex');
    (focusable ? el : document.getElementById('main'))?.focus({ preventScroll: true });
    scrollToElement(el, 5);
  });
}

/**
 * Scrolls el to the top of the view (below the sticky header, through its
 * scroll-margin-top). Right after a view switch a phone's browser may drop
 * the scroll: it is checked on the next frames and done again if so.
 */
function scrollToElement(el: HTMLElement, tries: number): void {
  el.scrollIntoView({ block: 'start' });
  if (tries <= 0) return;
  requestAnimationFrame(() => {
    const margin = parseFloat(getComputedStyle(el).scrollMarginTop) || 0;
    const top = el.getBoundingClientRect().top;
    const atBottom = window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 1;
    if (el.isConnected && Math.abs(top - margin) > 2 && !atBottom) scrollToElement(el, tries - 1);
  });
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
