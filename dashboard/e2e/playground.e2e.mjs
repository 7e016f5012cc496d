// Browser test of the GraphQL playground (/playground, GraphiQL bundled in
// the binary), in Debian's Chromium driven by playwright-core, with every
// request that is not to the node blocked and recorded: the page must work
// on a machine without internet access. cmd/archivist/playground_test.go
// starts real nodes (one without keys, one with) and runs this script; it
// can also be run by hand against a running node.
//
// Environment:
//   ARCHIVIST_URL          the node, e.g. http://127.0.0.1:8080 (required)
//   ARCHIVIST_NODE_ID      the node's id (required: the query must show it)
//   E2E_KEY                an operator key, for a node started with API keys:
//                          the page gets it as the dashboard leaves it (this
//                          tab's sessionStorage), and a tab without it types
//                          it under Headers.
//   ARCHIVIST_SCREENSHOTS  where to save screenshots (default: none saved)
//   CHROMIUM               the browser (default /usr/bin/chromium)
//
// Output, one line each: "PASS name", "FAIL name: reason", "SKIP name: why",
// and a closing "N passed, N failed". The exit code is 0 only when nothing
// failed.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { graphiqlReady, openDocs, run, typeHeaders, typeQuery, waitForResponse } from './graphiql.mjs';

const base = (process.env.ARCHIVIST_URL ?? '').replace(/\/+$/, '');
const nodeId = process.env.ARCHIVIST_NODE_ID ?? '';
if (!base || !nodeId) {
  console.error('ARCHIVIST_URL and ARCHIVIST_NODE_ID are needed (e.g. http://127.0.0.1:8080, node-1)');
  process.exit(2);
}
const key = process.env.E2E_KEY || '';
const shotsDir = process.env.ARCHIVIST_SCREENSHOTS || '';
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const T = 20000;
if (shotsDir) mkdirSync(shotsDir, { recursive: true });

const origin = new URL(base);
const nodeHost = origin.host; // 127.0.0.1:PORT
const wsOrigin = `${origin.protocol === 'https:' ? 'wss:' : 'ws:'}//${nodeHost}`;

let passed = 0;
let failed = 0;
let current = null; // the page a failure screenshot is taken of

async function scenario(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed++;
    console.log(`PASS ${name} (${Date.now() - started} ms)`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}: ${String(err?.message ?? err).split('\n').slice(0, 8).join(' | ')}`);
    if (current && shotsDir) await current.screenshot({ path: join(shotsDir, `failure-playground-${name.replace(/\W+/g, '-')}.png`) }).catch(() => {});
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run',
    '--disable-component-update', '--disable-sync'],
});

/** Every URL a page asked for (HTTP and WebSocket), what was blocked, page errors and CSP refusals: for all contexts. */
const requested = [];
const blocked = [];
const pageErrors = [];
const cspRefusals = [];

/**
 * A browser context in which nothing but the node can be reached: every
 * request (pages, scripts, styles, fonts, workers, WebSockets) to another
 * host is aborted and recorded. withKey: the tab holds the dashboard's key
 * in sessionStorage, as after signing in on the dashboard.
 */
async function offlineContext({ withKey = false } = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: 'light' });
  await ctx.route('**/*', (route) => {
    const u = route.request().url();
    let host = '';
    try {
      host = new URL(u).host;
    } catch {
      // not a URL with a host (data:): stays in the page
    }
    if (host === nodeHost || u.startsWith('data:') || u.startsWith('blob:')) return route.continue();
    blocked.push(u);
    return route.abort('blockedbyclient');
  });
  await ctx.routeWebSocket((url) => url.host !== nodeHost, (ws) => {
    blocked.push(ws.url());
    ws.close({ code: 1008, reason: 'blocked by the test: not the node' });
  });
  ctx.on('request', (r) => requested.push(r.url()));
  ctx.on('page', (p) => {
    p.on('websocket', (ws) => requested.push(ws.url()));
    p.on('pageerror', (e) => pageErrors.push(e.message));
    p.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspRefusals.push(m.text());
    });
  });
  if (withKey) {
    await ctx.addInitScript((k) => {
      if (location.pathname === '/playground') sessionStorage.setItem('archivist.apiKey', k);
    }, key);
  }
  return ctx;
}

/** Opens /playground in a new tab of ctx and waits for GraphiQL and the status line. */
async function openPlayground(ctx, state) {
  const page = await ctx.newPage();
  current = page;
  await page.goto(`${base}/playground`);
  await page.locator(`#archivist-auth[data-state="${state}"]`).waitFor({ timeout: T });
  await graphiqlReady(page);
  return page;
}

/** Resolves when page has sent a subscribe message on a WebSocket (the subscription is on the node). */
function subscribed(page) {
  return new Promise((resolve) => {
    page.on('websocket', (ws) => {
      ws.on('framesent', (f) => {
        if (typeof f.payload === 'string' && f.payload.includes('"type":"subscribe"')) resolve();
      });
    });
  });
}

const ctx = await offlineContext({ withKey: key !== '' });
const expectedState = key ? 'signed-in' : 'open';
let page;

await scenario('the playground loads from the node alone', async () => {
  page = await openPlayground(ctx, expectedState);
  const hint = await page.locator('#archivist-auth').innerText();
  if (key) {
    assert((await page.locator('#archivist-auth').getAttribute('data-role')) === 'OPERATOR', 'the line does not show the role');
    assert(hint.includes('Signed in as operator'), `line: ${hint}`);
  } else {
    assert(hint.includes('needs no API key'), `line: ${hint}`);
  }
});

await scenario('the docs explorer shows the schema from introspection', async () => {
  const docs = await openDocs(page);
  const roots = await docs.innerText();
  for (const want of ['query: Query', 'mutation: Mutation', 'subscription: Subscription']) assert(roots.includes(want), `docs lack "${want}": ${roots.slice(0, 300)}`);
  await docs.locator('a', { hasText: /^Mutation$/ }).first().click();
  await docs.getByText('submitTask', { exact: true }).first().waitFor({ timeout: T });
  const fields = await docs.innerText();
  for (const want of ['submitTask', 'cancelTask', 'updateConfig']) assert(fields.includes(want), `Mutation lacks ${want}: ${fields.slice(0, 300)}`);
  await page.getByRole('button', { name: 'Hide Documentation Explorer' }).click();
});

await scenario('a query typed in the editor runs over HTTP', async () => {
  await typeQuery(page, '{ nodes { id status workers } }');
  const res = await run(page, '"nodes"');
  assert(res.includes(`"id": "${nodeId}"`), `query result: ${res.slice(0, 300)}`);
});

await scenario('a subscription shows the task a mutation in another tab submits', async () => {
  // This tab subscribes to taskUpdated (over the WebSocket)...
  await typeQuery(page, 'subscription Watch { taskUpdated { id type status result } }');
  const on = subscribed(page);
  await page.locator('.graphiql-execute-button').click();
  await Promise.race([on, page.waitForTimeout(T).then(() => { throw new Error('no subscribe message went out on a WebSocket'); })]);
  // ...another submits an echo task (over HTTP)...
  const other = await openPlayground(ctx, expectedState);
  await typeQuery(other, 'mutation Submit { submitTask(input: {type: "echo", input: {from: "the playground"}}) { id status } }');
  const res = await run(other, '"submitTask"');
  const id = /"id": "([^"]+)"/.exec(res)?.[1];
  assert(id, `no task id in the mutation's result: ${res.slice(0, 300)}`);
  await other.close();
  current = page;
  // ...and the first shows it run to the end, with its result.
  const ev = await waitForResponse(page, '"COMPLETED"');
  assert(ev.includes(`"id": "${id}"`) && ev.includes('"type": "echo"') && ev.includes('"from": "the playground"'), `event: ${ev.slice(0, 400)}`);
  await page.locator('.graphiql-execute-button').click(); // stop it
  if (shotsDir) await page.screenshot({ path: join(shotsDir, key ? 'playground-subscription-key.png' : 'playground-subscription.png') });
});

if (key) {
  await scenario('headers typed in GraphiQL go on top and stay out of localStorage', async () => {
    // A tab without the dashboard's key: the line says how to sign in.
    const bare = await offlineContext();
    const p = await openPlayground(bare, 'signed-out');
    const line = await p.locator('#archivist-auth').innerText();
    assert(line.includes('Sign in on the dashboard') && line.includes('Bearer KEY'), `line: ${line}`);
    await typeQuery(p, '{ session { authenticated role } }');
    let res = await run(p, '"session"');
    assert(res.includes('"authenticated": false'), `without a key: ${res.slice(0, 300)}`);
    // The key typed under Headers: sent over HTTP...
    await typeHeaders(p, { Authorization: `Bearer ${key}` });
    await typeQuery(p, '{ session { authenticated role } }');
    res = await run(p, '"role": "OPERATOR"');
    // ...and in connection_init (the node closes a WebSocket with 4401 without it).
    await typeQuery(p, 'subscription Beats { nodeUpdated { id } }');
    res = await run(p, '"nodeUpdated"');
    assert(res.includes(nodeId), `subscription with the typed key: ${res.slice(0, 300)}`);
    await p.locator('.graphiql-execute-button').click();
    const local = await p.evaluate(() => JSON.stringify({ ...localStorage }));
    assert(!local.includes(key), `the typed key was written to localStorage: ${local.slice(0, 600)}`);
    await bare.close();
    current = page;
  });
}

await scenario('a GraphiQL that cannot load says so', async () => {
  const broken = await offlineContext({ withKey: key !== '' });
  // The node's GraphiQL chunk fails (as a broken or cut-off download would).
  await broken.route(/\/assets\/graphiql-[^/]+\.js$/, (route) => route.abort('failed'));
  const p = await broken.newPage();
  await p.goto(`${base}/playground`);
  const msg = p.locator('#graphiql [data-state="failed"]');
  await msg.waitFor({ timeout: T });
  const text = await msg.innerText();
  assert(text.includes('GraphiQL could not be loaded') && text.includes('/graphql'), `message: ${text}`);
  // The status line works without GraphiQL.
  await p.locator(`#archivist-auth[data-state="${expectedState}"]`).waitFor({ timeout: T });
  await broken.close();
  // The page error of the failed import is the point here.
  const i = pageErrors.findIndex((e) => e.includes('graphiql-'));
  if (i >= 0) pageErrors.splice(i, 1);
});

await scenario('no request left the node', async () => {
  const foreign = requested.filter((u) => !(u.startsWith(`${origin.origin}/`) || u.startsWith(`${wsOrigin}/`) || u.startsWith('data:') || u.startsWith('blob:')));
  assert(requested.length > 10, `only ${requested.length} requests recorded`);
  assert(requested.some((u) => u.startsWith(`${wsOrigin}/graphql`)), 'no WebSocket to the node was recorded');
  assert(requested.some((u) => /\/assets\/[^/]*worker[^/]*\.js$/.test(u)), "no editor worker was loaded from the node's /assets/");
  assert(foreign.length === 0 && blocked.length === 0, `requests to elsewhere: ${[...new Set([...foreign, ...blocked])].slice(0, 8).join(', ')}`);
  assert(cspRefusals.length === 0, `the Content-Security-Policy refused: ${cspRefusals.slice(0, 3).join(' | ')}`);
  assert(pageErrors.length === 0, `page errors: ${pageErrors.slice(0, 5).join('; ')}`);
  console.log(`INFO ${requested.length} requests, all to ${origin.origin} or ${wsOrigin}`);
});

await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
