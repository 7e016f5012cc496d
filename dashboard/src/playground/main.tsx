// The playground at /playground: a status line that says whether the node
// needs an API key (and uses the dashboard's, from this tab's
// sessionStorage), and GraphiQL, bundled here and served by the node: the
// page loads nothing from anywhere else.

import './playground.css';

import { authHeaders, loadKey } from '../lib/auth';
import { hintFor, type Hint, type HintSession } from './hint';

const ENDPOINT = '/graphql';

function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage off: no key
  }
}

const key = loadKey(storage());
const headers = authHeaders(key);

function show(h: Hint): void {
  const line = document.getElementById('archivist-auth');
  if (!line) return;
  if (h.role) line.setAttribute('data-role', h.role);
  line.setAttribute('data-state', h.state);
  line.replaceChildren(
    ...h.parts.map((p) => {
      if (typeof p === 'string') return document.createTextNode(p);
      if ('href' in p) {
        const a = document.createElement('a');
        a.href = p.href;
        a.textContent = p.text;
        return a;
      }
      const c = document.createElement('code');
      c.textContent = p.code;
      return c;
    }),
  );
}

async function askSession(): Promise<HintSession | null> {
  try {
    const res = await fetch(ENDPOINT, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify({ query: 'query Session { session { authRequired authenticated role insecure warnings } }' }),
      credentials: 'same-origin',
    });
    const body = (await res.json()) as { data?: { session?: HintSession } };
    return body?.data?.session ?? null;
  } catch {
    return null;
  }
}

void askSession().then((s) => show(hintFor(s, key !== null)));

const el = document.getElementById('graphiql');
if (el) {
  import('./graphiql')
    .then((m) => m.mountGraphiQL(el, ENDPOINT, headers))
    .catch((err: unknown) => {
      el.replaceChildren();
      const msg = document.createElement('div');
      msg.className = 'archivist-loading';
      msg.setAttribute('role', 'alert');
      msg.setAttribute('data-state', 'failed');
      msg.textContent = `GraphiQL could not be loaded from this node (${String((err as Error)?.message ?? err)}). The API itself is at ${ENDPOINT}.`;
      el.appendChild(msg);
    });
}
