// Browser tests of the dashboard, in Debian's Chromium driven by
// playwright-core (no downloaded browser). cmd/archivist/dashboard_test.go
// starts a real node and runs this script; it can also be run by hand
// against a running node (see dashboard/README.md).
//
// Environment:
//   ARCHIVIST_URL          the node, e.g. http://127.0.0.1:8080 (required)
//   ARCHIVIST_NODE_ID      the node's id (default: the first node shown)
//   ARCHIVIST_SCREENSHOTS  where to save screenshots (default: none saved)
//   CHROMIUM               the browser (default /usr/bin/chromium)
//   E2E_ONLY               a regular expression: only the scenarios whose
//                          name matches run (by hand, while working on some)
//   E2E_INTERACTIVE=1      the driver answers ASK lines on stdin (kill and
//                          restart the node, submit through the API); without
//                          it, the scenarios that need the driver are skipped.
//   E2E_MODE=cluster       instead of the single-node scenarios: a cluster of
//                          NODE_COUNT nodes (cards, leader, a node killed shows
//                          OFFLINE and comes back), how the page copes, and
//                          alerts (pending_too_old, node_offline) shown live.
//   E2E_MODE=auth          a node started with API keys: sign-in, roles,
//                          sign-out, a reload, the playground, a revoked key.
//                          E2E_KEY_VIEWER, E2E_KEY_OPERATOR, E2E_KEY_ADMIN are
//                          its keys. Optional: ARCHIVIST_INSECURE_URL, a node
//                          run with --insecure.
//
// Output, one line each: "PASS name", "FAIL name: reason", "SKIP name: why",
// "ASK action" (the driver answers with one line on stdin), and a closing
// "N passed, N failed". The exit code is 0 only when nothing failed.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { chromium } from 'playwright-core';

import { graphiqlReady, run as runInGraphiQL, typeQuery } from './graphiql.mjs';

const base = (process.env.ARCHIVIST_URL ?? '').replace(/\/+$/, '');
if (!base) {
  console.error('ARCHIVIST_URL is not set (e.g. http://127.0.0.1:8080)');
  process.exit(2);
}
const shotsDir = process.env.ARCHIVIST_SCREENSHOTS || '';
const interactive = process.env.E2E_INTERACTIVE === '1';
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const mode = process.env.E2E_MODE || 'single';
const nodeCount = Number(process.env.NODE_COUNT || 0);
const T = 20000; // default wait

if (shotsDir) mkdirSync(shotsDir, { recursive: true });

const lines = interactive ? createInterface({ input: process.stdin })[Symbol.asyncIterator]() : null;

/** Asks the driver (the Go test) to do something; returns its one-line answer. */
async function ask(action) {
  if (!lines) throw new Error(`needs the driver for ${action}`);
  console.log(`ASK ${action}`);
  const { value, done } = await lines.next();
  if (done) throw new Error(`driver closed stdin during ${action}`);
  if (value.startsWith('ERROR')) throw new Error(`driver: ${value}`);
  return value.trim();
}

let passed = 0;
let failed = 0;

const only = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY) : null;

async function scenario(name, fn, { needsDriver = false } = {}) {
  if (only && !only.test(name)) return;
  if (needsDriver && !interactive) {
    console.log(`SKIP ${name}: needs E2E_INTERACTIVE=1 and a driver`);
    return;
  }
  const started = Date.now();
  traffic.length = 0;
  try {
    await fn();
    passed++;
    console.log(`PASS ${name} (${Date.now() - started} ms)`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}: ${String(err?.message ?? err).split('\n').slice(0, 6).join(' | ')}`);
    await shot(`failure-${name}`, page).catch(() => {});
    await explainFailure().catch((e) => console.log(`INFO (could not describe the page: ${e.message})`));
  }
}

/** Prints, as INFO lines, the page's rows and connection and its traffic since the scenario began. */
async function explainFailure() {
  const state = await page.evaluate(() => ({
    url: location.href,
    connection: document.querySelector('[data-testid="connection"]')?.getAttribute('data-state') ?? null,
    rows: [...document.querySelectorAll('table.tasks tbody tr')].map((r) => `${r.getAttribute('data-task-id')} ${r.getAttribute('data-status')} ${r.className}`),
  }));
  console.log(`INFO page ${state.url}, connection ${state.connection}, ${state.rows.length} task rows`);
  for (const r of state.rows.slice(0, 30)) console.log(`INFO   row ${r}`);
  for (const line of traffic.splice(0)) console.log(`INFO   ${line}`);
}

async function shot(name, p, opts = {}) {
  if (!shotsDir) return;
  await p.screenshot({ path: join(shotsDir, `${name}.png`), ...opts });
  console.log(`SHOT ${join(shotsDir, `${name}.png`)}`);
}

/** A screenshot of one element (a section of a view). */
async function shotOf(name, locator) {
  if (!shotsDir) return;
  await locator.screenshot({ path: join(shotsDir, `${name}.png`) });
  console.log(`SHOT ${join(shotsDir, `${name}.png`)}`);
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-quic',
    '--no-first-run',
    '--disable-component-update',
    '--disable-sync',
  ],
});

const pageErrors = [];
const foreign = [];
/** The nodes under test: requests to them are not foreign. */
const ownOrigins = [base];
const isOwn = (u) => u.startsWith('data:') || ownOrigins.some((o) => u.startsWith(o) || u.startsWith(o.replace(/^http/, 'ws')));

/**
 * What the main page said and heard lately (WebSocket frames, GraphQL
 * requests over HTTP, console warnings), printed when a scenario fails: a
 * failure in CI can then be read, not guessed.
 */
const traffic = [];
const TRAFFIC_KEEP = 400;
function note(kind, text) {
  traffic.push(`${new Date().toISOString().slice(11, 23)} ${kind} ${String(text).slice(0, 400)}`);
  if (traffic.length > TRAFFIC_KEEP) traffic.splice(0, traffic.length - TRAFFIC_KEEP);
}
function recordTraffic(p) {
  p.on('console', (m) => {
    if (m.type() === 'warning' || m.type() === 'error') note(`console.${m.type()}`, m.text());
  });
  p.on('websocket', (ws) => {
    note('ws.open', ws.url());
    ws.on('framesent', (f) => note('ws>', f.payload));
    ws.on('framereceived', (f) => note('ws<', f.payload));
    ws.on('close', () => note('ws.close', ws.url()));
    ws.on('socketerror', (e) => note('ws.error', e));
  });
  p.on('request', (r) => {
    if (r.url().endsWith('/graphql') && r.method() === 'POST') note('http>', r.postData() ?? '');
  });
  p.on('response', async (r) => {
    if (!r.url().endsWith('/graphql') || r.request().method() !== 'POST') return;
    note('http<', await r.text().catch((e) => `(no body: ${e.message})`));
  });
}

async function newPage(options) {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: 'light', ...options });
  const p = await ctx.newPage();
  p.on('pageerror', (e) => pageErrors.push(e.message));
  // Every request of the page (scripts, styles, fonts, workers, the API)
  // and every WebSocket must go to the node: the dashboard and the
  // playground are bundled in the binary.
  p.on('request', (r) => {
    if (!isOwn(r.url())) foreign.push(r.url());
  });
  p.on('websocket', (ws) => {
    if (!isOwn(ws.url())) foreign.push(ws.url());
  });
  return p;
}

const page = await newPage();
recordTraffic(page);

/** Clicks a link of the main navigation (no page load). */
async function nav(p, name) {
  await p.locator('nav[aria-label="Main"]').getByRole('link', { name, exact: true }).click();
}

const online = (p) => p.locator('[data-testid="connection"][data-state="online"]').waitFor({ timeout: T });

const SUBMIT_WORKFLOW = 'mutation($input: WorkflowInput!) { submitWorkflow(input: $input) { id status } }';

/** Runs a GraphQL operation from the page (same origin, same key as the page); fails on an error. */
async function gql(p, query, variables = {}) {
  const res = await p.evaluate(
    async ([q, v]) => {
      const r = await fetch('/graphql', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ query: q, variables: v }) });
      return r.json();
    },
    [query, variables],
  );
  if (res.errors?.length) throw new Error(`GraphQL: ${res.errors.map((e) => e.message).join('; ')}`);
  return res.data;
}

let nodeId = process.env.ARCHIVIST_NODE_ID || '';
let formTaskId = '';

async function singleNodeScenarios() {

  await scenario('page loads with the node shown', async () => {
    await page.goto(`${base}/`);
    await online(page);
    // A marker that a reload would wipe: later scenarios check it is still there.
    await page.evaluate(() => (window.__e2eNoReload = true));
    await page.getByRole('heading', { name: 'Overview' }).waitFor({ timeout: T });
    await page.locator('[data-testid="leader"]').filter({ hasNotText: 'none' }).waitFor({ timeout: T });
    // The alerts: the header's count, and the Overview's list (empty or not).
    await page.locator('[data-testid="alerts-badge"][data-count]').waitFor({ timeout: T });
    await page.getByRole('heading', { name: /^Alerts/ }).waitFor({ timeout: T });
    await nav(page, 'Nodes');
    const card = nodeId ? page.locator(`[data-node-id="${nodeId}"]`) : page.locator('[data-node-id]').first();
    await card.waitFor({ timeout: T });
    nodeId ||= await card.getAttribute('data-node-id');
    await page.locator(`[data-node-id="${nodeId}"][data-status="ONLINE"]`).waitFor({ timeout: T });
    const text = await card.innerText();
    for (const want of ['Leader', 'CPU', 'Memory', 'Load', 'busy', 'Heartbeat']) assert(text.includes(want), `node card lacks "${want}": ${text}`);
    // Live sparklines: samples arrive with heartbeats.
    await page.waitForFunction(
      (id) => document.querySelector(`[data-node-id="${id}"] .sparkline polyline`) !== null,
      nodeId,
      { timeout: T },
    );
  });

  await scenario('keyboard: skip link and navigation', async () => {
    await page.goto(`${base}/nodes`);
    await online(page);
    await page.evaluate(() => (window.__e2eNoReload = true));
    await page.keyboard.press('Tab');
    const first = await page.evaluate(() => document.activeElement?.textContent);
    assert(first?.includes('Skip to content'), `first Tab focuses "${first}", want the skip link`);
    // Tab to the Tasks link of the navigation and follow it with Enter.
    for (let i = 0; i < 10; i++) {
      const t = await page.evaluate(() => document.activeElement?.textContent ?? '');
      if (t.trim().endsWith('Tasks')) break;
      await page.keyboard.press('Tab');
    }
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Tasks', exact: true }).waitFor({ timeout: T });
    assert(new URL(page.url()).pathname === '/tasks', `Enter led to ${page.url()}`);
  });

  await scenario('task submitted through the form moves to COMPLETED without a reload', async () => {
    await nav(page, 'Tasks');
    await page.getByRole('link', { name: '+ New task' }).click();
    await page.getByRole('heading', { name: 'New task' }).waitFor({ timeout: T });
    await page.getByLabel('Type').selectOption('sleep');
    const input = page.getByLabel('Input (JSON)');
    // Bad JSON is refused before anything is sent.
    await input.fill('{ "ms": 1500 ');
    await page.locator('[data-testid="input-check"]', { hasText: 'Invalid JSON' }).waitFor({ timeout: T });
    await page.getByRole('button', { name: 'Submit task' }).click();
    await page.waitForTimeout(200);
    assert(new URL(page.url()).pathname === '/tasks/new', 'the form was sent with invalid JSON');
    await input.fill('{ "ms": 1500 }');
    await page.locator('[data-testid="input-check"]', { hasText: 'Valid JSON' }).waitFor({ timeout: T });
    await page.getByLabel('Priority').selectOption('HIGH');
    await page.getByLabel('Max retries').fill('2');
    // The task's own retry backoff: a max under the first backoff is refused
    // before anything is sent.
    const backoff = page.getByLabel('First retry backoff (ms)');
    const maxBackoff = page.getByLabel('Max retry backoff (ms)');
    await backoff.fill('1500');
    await maxBackoff.fill('1000');
    await page.locator('.field-error', { hasText: 'Not under the first backoff' }).waitFor({ timeout: T });
    assert(await page.getByRole('button', { name: 'Submit task' }).isDisabled(), 'the form can be sent with a max backoff under the first');
    await maxBackoff.fill('60000');
    await page.getByLabel('Metadata (JSON, optional)').fill('{ "requestedBy": "e2e" }');
    await page.getByRole('button', { name: 'Submit task' }).click();
    await page.waitForURL(/\/tasks\/(?!new)[^/]+$/, { timeout: T });
    formTaskId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
    const detail = page.locator(`section.task-detail[data-task-id="${formTaskId}"]`);
    await detail.waitFor({ timeout: T });
    const seen = [];
    const deadline = Date.now() + T;
    for (;;) {
      const s = await detail.getAttribute('data-status');
      if (seen[seen.length - 1] !== s) seen.push(s);
      if (s === 'COMPLETED') break;
      assert(Date.now() < deadline, `task stayed ${s}; saw ${seen.join(' → ')}`);
      await page.waitForTimeout(50);
    }
    assert(seen[0] !== 'COMPLETED', 'the task was already COMPLETED when its page showed; no live change seen');
    const result = await page.locator('[data-testid="task-result"]').innerText();
    assert(result.includes('sleptMs'), `result ${result}`);
    const text = await detail.innerText();
    assert(text.includes('High'), 'priority High not shown');
    assert(text.includes('requestedBy'), 'metadata not shown');
    const shownBackoff = await page.locator('[data-testid="task-backoff"]').innerText();
    assert(shownBackoff === '1.50 s, at most 1 min 00 s', `the task's own backoff shows as "${shownBackoff}"`);
    // The list shows it COMPLETED too.
    await nav(page, 'Tasks');
    await page.locator(`tr[data-task-id="${formTaskId}"][data-status="COMPLETED"]`).waitFor({ timeout: T });
    assert(await page.evaluate(() => window.__e2eNoReload === true), 'the page reloaded');
  });

  await scenario(
    'task submitted through the API appears live in the list',
    async () => {
      await nav(page, 'Tasks');
      await page.locator('[data-testid="task-range"]', { hasNotText: 'Loading' }).waitFor({ timeout: T });
      const id = await ask('submit-api');
      await page.locator(`tr[data-task-id="${id}"]`).waitFor({ timeout: T });
      await page.locator(`tr[data-task-id="${id}"][data-status="COMPLETED"]`).waitFor({ timeout: T });
      assert(await page.evaluate(() => window.__e2eNoReload === true), 'the page reloaded');
    },
    { needsDriver: true },
  );

  await scenario('cancel and retry a long task from the UI', async () => {
    await page.getByRole('link', { name: '+ New task' }).click();
    await page.getByLabel('Type').selectOption('sleep');
    await page.getByLabel('Input (JSON)').fill('{ "ms": 120000 }');
    await page.getByRole('button', { name: 'Submit task' }).click();
    await page.waitForURL(/\/tasks\/(?!new)[^/]+$/, { timeout: T });
    const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
    const detail = (s) => page.locator(`section.task-detail[data-task-id="${id}"][data-status="${s}"]`);
    await detail('IN_PROGRESS').waitFor({ timeout: T });
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await detail('CANCELLED').waitFor({ timeout: T });
    await page.getByRole('button', { name: 'Retry', exact: true }).click();
    await page.locator(`section.task-detail[data-task-id="${id}"]:not([data-status="CANCELLED"])`).waitFor({ timeout: T });
    await detail('IN_PROGRESS').waitFor({ timeout: T });
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await detail('CANCELLED').waitFor({ timeout: T });
  });

  await scenario('bulk: the failed view retries all its tasks after a confirmation that says how many, and deletes a selection', async () => {
    const marker = `dead-letter-${Date.now()}`;
    const submit = 'mutation($input: SubmitTaskInput!) { submitTask(input: $input) { id } }';
    for (let i = 0; i < 3; i++) {
      await gql(page, submit, { input: { type: 'fail', input: { times: 9, message: marker }, maxRetries: 0 } });
    }
    // A failed task of the view that the search leaves out: the bulk retry
    // must leave it alone, even when it is clicked before the search,
    // typed just before, reached the URL.
    const other = (await gql(page, submit, { input: { type: 'fail', input: { times: 9, message: `other-${Date.now()}` }, maxRetries: 0 } })).submitTask.id;
    const states = async () =>
      (await gql(page, 'query($f: TaskFilter) { tasks(filter: $f) { edges { node { id status attempts } } } }', { f: { search: marker } })).tasks.edges.map(
        (e) => e.node,
      );
    const until = async (what, ok) => {
      const deadline = Date.now() + T;
      for (;;) {
        const got = await states();
        if (ok(got)) return got;
        assert(Date.now() < deadline, `${what}: ${JSON.stringify(got)}`);
        await page.waitForTimeout(100);
      }
    };
    await until('3 tasks FAILED', (ts) => ts.length === 3 && ts.every((t) => t.status === 'FAILED'));
    for (const deadline = Date.now() + T; ; await page.waitForTimeout(100)) {
      const t = (await gql(page, 'query($id: ID!) { task(id: $id) { status } }', { id: other })).task;
      if (t.status === 'FAILED') break;
      assert(Date.now() < deadline, `the other task is ${t.status}`);
    }

    await nav(page, 'Tasks');
    await page.getByTestId('failed-view').click();
    await page.waitForURL(/status=FAILED(%2C|,)TIMED_OUT/, { timeout: T });
    const rows = page.locator('table.tasks tbody tr');
    await page.locator(`tr[data-task-id="${other}"]`).waitFor({ timeout: T });
    await page.getByTestId('task-error').filter({ hasText: marker }).first().waitFor({ timeout: T }); // the errors show
    assert((await page.getByTestId('bulk-cancel').count()) === 0, 'the failed view offers to cancel');
    // Retry all, clicked as soon as the search is typed (before its pause
    // has passed): it acts on the search.
    await page.getByRole('searchbox').fill(marker);
    await page.getByTestId('bulk-retry').click();
    const confirm = page.getByTestId('bulk-confirm');
    await confirm.waitFor({ timeout: T });
    const text = await confirm.textContent();
    assert(/Retry 3 tasks matching the filter\?/.test(text), `confirmation says: ${text}`);
    await page.waitForFunction((n) => document.querySelectorAll('table.tasks tbody tr[data-status="FAILED"]').length === n, 3, { timeout: T });
    await shotOf('31-bulk-confirm', page.getByTestId('bulk-bar'));
    await confirm.getByRole('button', { name: 'Yes, retry' }).click();
    await page.getByTestId('bulk-result').filter({ hasText: 'Retried 3 tasks.' }).waitFor({ timeout: T });
    // They ran again, and failed again: back in the failed view.
    await until('3 tasks FAILED after a second attempt', (ts) => ts.length === 3 && ts.every((t) => t.status === 'FAILED' && t.attempts === 2));
    const left = (await gql(page, 'query($id: ID!) { task(id: $id) { status attempts } }', { id: other })).task;
    assert(left.status === 'FAILED' && left.attempts === 1, `the task the search leaves out was retried: ${JSON.stringify(left)}`);
    await page.waitForFunction((n) => document.querySelectorAll('table.tasks tbody tr[data-status="FAILED"]').length === n, 3, { timeout: T });

    // A selection of one: deleted, the others stay.
    const first = await rows.first().getAttribute('data-task-id');
    await page.getByRole('checkbox', { name: `Select ${first}` }).check();
    await page.getByTestId('bulk-delete').click();
    await page.getByTestId('bulk-confirm').filter({ hasText: 'Delete 1 task of the selection?' }).waitFor({ timeout: T });
    await page.getByRole('button', { name: 'Yes, delete' }).click();
    await page.getByTestId('bulk-result').filter({ hasText: 'Deleted 1 task.' }).waitFor({ timeout: T });
    await until('2 tasks left', (ts) => ts.length === 2 && !ts.some((t) => t.id === first));
    await page.waitForFunction((n) => document.querySelectorAll('table.tasks tbody tr').length === n, 2, { timeout: T });
    await page.getByRole('button', { name: 'Clear filters' }).click();
  });

  await scenario('a delayed task waits SCHEDULED with its due time, then runs', async () => {
    await nav(page, 'Tasks');
    await page.getByRole('link', { name: '+ New task' }).click();
    await page.getByRole('heading', { name: 'New task' }).waitFor({ timeout: T });
    await page.getByLabel('Type').selectOption('echo');
    await page.getByLabel('Input (JSON)').fill('{ "delayed": true }');
    await page.getByRole('radio', { name: 'In', exact: true }).check();
    await page.getByLabel('Delay (s)').fill('3');
    await page.locator('[data-testid="run-check"]', { hasText: 'SCHEDULED until then' }).waitFor({ timeout: T });
    const submitted = Date.now();
    await page.getByRole('button', { name: 'Submit task' }).click();
    await page.waitForURL(/\/tasks\/(?!new)[^/?]+$/, { timeout: T });
    const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
    const detail = page.locator(`section.task-detail[data-task-id="${id}"]`);
    await detail.waitFor({ timeout: T });
    const first = await detail.getAttribute('data-status');
    assert(first === 'SCHEDULED', `a task delayed by 3 s shows ${first}, want SCHEDULED`);
    const due = (await page.locator('[data-testid="task-run-at"] [data-testid="task-due"]').innerText()).trim();
    // (The page reads the node's clock from heartbeats, give or take their delivery.)
    assert(/^in [1-4] s$/.test(due), `its due time shows "${due}", want "in 1 s" to "in 4 s"`);
    // Then it is queued on time and runs, live on the same page.
    const seen = [first];
    let left = 0;
    const deadline = Date.now() + T;
    for (;;) {
      const s = await detail.getAttribute('data-status');
      if (seen[seen.length - 1] !== s) seen.push(s);
      if (!left && s !== 'SCHEDULED') left = Date.now();
      if (s === 'COMPLETED') break;
      assert(Date.now() < deadline, `the delayed task stayed ${s}; saw ${seen.join(' → ')}`);
      await page.waitForTimeout(50);
    }
    assert(left - submitted >= 2000, `the task left SCHEDULED ${left - submitted} ms after it was submitted with a 3 s delay`);
    const result = await page.locator('[data-testid="task-result"]').innerText();
    assert(result.includes('delayed'), `result ${result}`);
    assert(await page.evaluate(() => window.__e2eNoReload === true), 'the page reloaded');
  });

  await scenario('a task due later is listed SCHEDULED with its due time, and can be cancelled', async () => {
    await nav(page, 'Tasks');
    await page.getByRole('link', { name: '+ New task' }).click();
    await page.getByLabel('Type').selectOption('dice.simulate');
    await page.getByRole('radio', { name: 'At', exact: true }).check();
    // Two hours from now, in the browser's zone (the field's).
    const at = await page.evaluate(() => {
      const d = new Date(Date.now() + 2 * 3600_000);
      const p = (n) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
    });
    await page.getByLabel('Run at').fill(at);
    await page.getByRole('button', { name: 'Submit task' }).click();
    await page.waitForURL(/\/tasks\/(?!new)[^/?]+$/, { timeout: T });
    const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
    const scheduled = page.locator(`section.task-detail[data-task-id="${id}"][data-status="SCHEDULED"]`);
    await scheduled.waitFor({ timeout: T });
    await page.locator('[data-testid="task-run-at"] [data-testid="task-due"]', { hasText: /^in (1 h 5\d min|2 h)$/ }).waitFor({ timeout: T });
    await shot('26-task-scheduled', page, { fullPage: true });
    // The list, filtered on SCHEDULED: the row with its due time, the absolute time on hover.
    await nav(page, 'Tasks');
    await page.getByLabel('Status').selectOption('SCHEDULED');
    await page.waitForURL(/status=SCHEDULED/, { timeout: T });
    const row = page.locator(`tr[data-task-id="${id}"][data-status="SCHEDULED"]`);
    await row.waitFor({ timeout: T });
    const due = row.locator('[data-testid="task-due"]');
    const text = (await due.innerText()).trim();
    assert(/^in (1 h 5\d min|2 h)$/.test(text), `the list shows the due time as "${text}"`);
    const title = await due.getAttribute('title');
    assert(title && /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:/.test(title), `no absolute time on hover: ${title}`);
    const badge = await row.locator('.badge[data-status="SCHEDULED"]').getAttribute('class');
    assert(badge.includes('tone-sched'), `SCHEDULED badge class "${badge}"`);
    // Cancel works on a task that never ran.
    await row.locator('a').first().click();
    await scheduled.waitFor({ timeout: T });
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await page.locator(`section.task-detail[data-task-id="${id}"][data-status="CANCELLED"]`).waitFor({ timeout: T });
  });

  await scenario('a second submission with a held unique key shows the task that holds it', async () => {
    const key = `e2e-unique-${Date.now().toString(36)}`;
    async function submit(policy) {
      await nav(page, 'Tasks');
      await page.getByRole('link', { name: '+ New task' }).click();
      await page.getByLabel('Type').selectOption('sleep');
      // Long enough to be unfinished through the three submissions.
      await page.getByLabel('Input (JSON)').fill('{ "ms": 30000 }');
      await page.getByLabel('Unique key (optional)').fill(key);
      if (policy) await page.getByLabel('If the key is taken').selectOption(policy);
      await page.getByRole('button', { name: 'Submit task' }).click();
      await page.waitForURL(/\/tasks\/(?!new)[^/?]+(\?.*)?$/, { timeout: T });
      const u = new URL(page.url());
      return { id: decodeURIComponent(u.pathname.split('/').pop()), duplicate: u.searchParams.get('duplicate') === '1' };
    }
    const a = await submit();
    assert(!a.duplicate, 'the first submission with the key is called a duplicate');
    await page.locator(`section.task-detail[data-task-id="${a.id}"]`).waitFor({ timeout: T });
    const held = await page.locator('[data-testid="task-unique-key"]').innerText();
    assert(held.includes(key) && held.includes('while unfinished'), `unique key shows "${held}"`);
    // Again, while the first is unfinished: nothing new; the first is shown, and says so.
    const b = await submit();
    assert(b.id === a.id && b.duplicate, `the second submission led to ${page.url()}, want the first task ${a.id} marked duplicate`);
    const notice = page.locator('[data-testid="duplicate-notice"]');
    await notice.waitFor({ timeout: T });
    const text = await notice.innerText();
    assert(text.includes('A task with this unique key already exists: showing it'), `notice: ${text}`);
    assert((await notice.locator('[data-testid="duplicate-link"]').getAttribute('href')) === `/tasks/${a.id}`, 'the notice does not link to the task');
    // REPLACE: the held task is cancelled, the new one takes the key.
    const c = await submit('REPLACE');
    assert(c.id !== a.id && !c.duplicate, `REPLACE led to ${page.url()}`);
    await nav(page, 'Tasks');
    await page.getByRole('searchbox', { name: 'Search' }).fill(a.id);
    await page.locator(`tr[data-task-id="${a.id}"][data-status="CANCELLED"]`).waitFor({ timeout: T });
    await page.getByRole('button', { name: 'Clear filters' }).click();
    // The new holder of the key is not needed any longer.
    await page.locator(`tr[data-task-id="${c.id}"] a`).first().click();
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await page.locator(`section.task-detail[data-task-id="${c.id}"][data-status="CANCELLED"]`).waitFor({ timeout: T });
  });

  await scenario('groups: a task submitted with a group shows it, the list filters by it, the overview counts it', async () => {
    const group = `e2e-campaign-${Date.now().toString(36)}`;
    await nav(page, 'Tasks');
    await page.getByRole('link', { name: '+ New task' }).click();
    await page.getByLabel('Type').selectOption('sleep');
    await page.getByLabel('Input (JSON)').fill('{ "ms": 1 }');
    await page.getByRole('radio', { name: 'In', exact: true }).check();
    await page.getByLabel('Delay (s)').fill('7200');
    const groupField = page.getByLabel('Group (optional)');
    // A reserved group is refused before anything is sent.
    await groupField.fill('*');
    await page.locator('.field-error', { hasText: 'reserved' }).waitFor({ timeout: T });
    await page.getByRole('button', { name: 'Submit task' }).click();
    await page.waitForTimeout(200);
    assert(new URL(page.url()).pathname === '/tasks/new', 'the form was sent with group "*"');
    await groupField.fill(group);
    await page.getByRole('button', { name: 'Submit task' }).click();
    await page.waitForURL(/\/tasks\/(?!new)[^/?]+$/, { timeout: T });
    const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
    await page.locator(`section.task-detail[data-task-id="${id}"][data-status="SCHEDULED"]`).waitFor({ timeout: T });
    const shown = await page.locator('[data-testid="task-group"]').innerText();
    assert(shown === group, `the task's group shows as "${shown}"`);
    // The node traces (the test sets OTEL_*): the task shows the id of the
    // trace its submission started, which a tracing backend finds.
    const trace = await page.locator('[data-testid="task-trace"]').innerText({ timeout: T });
    assert(/^[0-9a-f]{32}$/.test(trace), `the task's trace id shows as "${trace}"`);
    await shotOf('33-task-trace', page.locator('section.task-detail'));
    // One more in the group, one without.
    const other = (await gql(page, 'mutation($g: String) { submitTask(input: {type: "echo", group: $g}) { id } }', { g: group })).submitTask.id;
    const outside = (await gql(page, 'mutation { submitTask(input: {type: "echo"}) { id } }')).submitTask.id;

    // The list filtered by the group: both of its tasks, with the group in their row, and not the other.
    await nav(page, 'Tasks');
    await page.locator('form[aria-label="Filter tasks"] input[name="group"]').fill(group);
    await page.waitForURL(new RegExp(`group=${group}`), { timeout: T });
    await page.locator(`tr[data-task-id="${other}"][data-status="COMPLETED"]`).waitFor({ timeout: T });
    await page.locator('[data-testid="task-range"]', { hasText: /^1–2 of 2/ }).waitFor({ timeout: T });
    const row = page.locator(`tr[data-task-id="${id}"]`);
    assert((await row.locator('[data-testid="task-group-cell"]').innerText()) === group, 'the row does not show the group');
    assert((await page.locator(`tr[data-task-id="${outside}"]`).count()) === 0, 'a task without the group is listed');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.locator(`tr[data-task-id="${outside}"]`).waitFor({ timeout: T });

    // The overview counts the group: 2 tasks, 1 unfinished (the scheduled one).
    await nav(page, 'Overview');
    const counted = page.locator(`[data-testid="group-counts"] tr[data-group="${group}"]`);
    await counted.locator('[data-testid="group-total"]', { hasText: /^2$/ }).waitFor({ timeout: T });
    await counted.locator('[data-testid="group-unfinished"]', { hasText: /^1$/ }).waitFor({ timeout: T });
    // Cancelling it is counted live.
    await gql(page, 'mutation($id: ID!) { cancelTask(id: $id) { id } }', { id });
    await counted.locator('[data-testid="group-unfinished"]', { hasText: /^0$/ }).waitFor({ timeout: T });
    // Its link leads to the group's tasks.
    await counted.getByRole('link', { name: group }).click();
    await page.waitForURL(new RegExp(`/tasks\\?group=${group}`), { timeout: T });
    await page.locator(`tr[data-task-id="${id}"][data-status="CANCELLED"]`).waitFor({ timeout: T });
  });

  await scenario('schedules: create, see it fire, pause, run now, resume, edit and delete from the UI', async () => {
    const name = `e2e-every-2s-${Date.now().toString(36)}`;
    try {
      await nav(page, 'Schedules');
      await page.getByRole('heading', { name: 'Schedules', exact: true }).waitFor({ timeout: T });
      await page.getByRole('link', { name: '+ New schedule' }).click();
      const form = page.locator('[data-testid="schedule-form"]');
      await form.waitFor({ timeout: T });
      // The time zone defaults to the browser's.
      const zone = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
      assert((await form.locator('input[name="timezone"]').inputValue()) === zone, `time zone default is not ${zone}`);
      // A bad cron expression: the node's error shows in the form, nothing is created.
      await form.locator('input[name="name"]').fill('e2e-bad-cron');
      await form.locator('input[name="cron"]').fill('61 * * * *');
      await form.getByRole('button', { name: 'Create schedule' }).click();
      const err = page.locator('[data-testid="schedule-error"]');
      await err.waitFor({ timeout: T });
      const msg = await err.innerText();
      assert(msg.includes('The node refused the schedule') && /cron|61|range|expression/i.test(msg), `bad cron error: ${msg}`);
      assert(new URL(page.url()).pathname === '/schedules/new', `a bad cron left the form for ${page.url()}`);

      // A paused cron schedule in a time zone, for the list's screenshot.
      await form.locator('input[name="name"]').fill(`e2e-nightly-${Date.now().toString(36)}`);
      await form.locator('input[name="cron"]').fill('0 3 * * *');
      await form.locator('input[name="timezone"]').fill('Europe/Paris');
      await form.locator('select[name="type"]').selectOption('sleep');
      await form.locator('textarea[name="input"]').fill('{ "ms": 500 }');
      await form.locator('select[name="priority"]').selectOption('HIGH');
      await form.locator('select[name="overlap"]').selectOption('SKIP');
      await form.getByText('Skip the tick while the previous task is unfinished.').waitFor({ timeout: T });
      await form.locator('select[name="misfire"]').selectOption('SKIP');
      await form.getByRole('checkbox', { name: 'Create it paused' }).check();
      await form.getByRole('button', { name: 'Create schedule' }).click();
      await page.waitForURL(/\/schedules#schedule-/, { timeout: T });
      await page.locator('tr[data-schedule-name^="e2e-nightly-"][data-paused="true"]').first().waitFor({ timeout: T });

      // Every 2 s.
      await page.getByRole('link', { name: '+ New schedule' }).click();
      await form.waitFor({ timeout: T });
      await form.locator('input[name="name"]').fill(name);
      await form.getByRole('radio', { name: 'Every interval' }).check();
      await form.locator('input[name="every"]').fill('2s');
      await form.locator('select[name="type"]').selectOption('echo');
      await form.locator('textarea[name="input"]').fill('{ "from": "a schedule" }');
      await form.getByRole('button', { name: 'Create schedule' }).click();
      await page.waitForURL(/\/schedules#schedule-/, { timeout: T });
      const row = page.locator(`tr[data-schedule-name="${name}"]`);
      await row.waitFor({ timeout: T });
      assert((await row.locator('[data-testid="schedule-cadence"]').innerText()).trim() === 'every 2s', 'cadence');
      await row.locator('[data-testid="schedule-next"] time', { hasText: /^(in [1-2] s|due now)$/ }).waitFor({ timeout: T });
      // It fires: the last task shows, then changes at the next tick, live.
      const last = row.locator('[data-testid="schedule-last-task"]');
      await last.waitFor({ timeout: T });
      const firstHref = await last.getAttribute('href');
      await page.waitForFunction(
        ([n, href]) => {
          const a = document.querySelector(`tr[data-schedule-name="${n}"] [data-testid="schedule-last-task"]`);
          return a !== null && a.getAttribute('href') !== href;
        },
        [name, firstHref],
        { timeout: T },
      );
      await page.waitForTimeout(300);
      await shot('24-schedules', page);

      // The row leads to the schedule's tasks; a task leads back to its schedule.
      const firstTask = decodeURIComponent(firstHref.split('/').pop());
      await row.locator('[data-testid="schedule-tasks-link"]').click();
      await page.waitForURL(/\/tasks\?schedule=/, { timeout: T });
      assert((await page.locator('input[name="schedule"]').inputValue()) === name, 'the schedule filter is not filled');
      await page.locator(`tr[data-task-id="${firstTask}"]`).waitFor({ timeout: T });
      await page.locator(`tr[data-task-id="${firstTask}"] a`).first().click();
      await page.locator(`section.task-detail[data-task-id="${firstTask}"]`).waitFor({ timeout: T });
      await page.locator('[data-testid="task-schedule"]', { hasText: name }).click();
      await row.waitFor({ timeout: T });

      // Pause: no tick fires while paused (two intervals and more).
      await row.getByRole('button', { name: 'Pause', exact: true }).click();
      await page.locator(`tr[data-schedule-name="${name}"][data-paused="true"]`).waitFor({ timeout: T });
      await row.locator('[data-testid="schedule-paused"]').waitFor({ timeout: T });
      const pausedHref = await last.getAttribute('href');
      await page.waitForTimeout(4500);
      assert((await last.getAttribute('href')) === pausedHref, 'a paused schedule fired');

      // Run now: a task, at once, shown with a link.
      await row.getByRole('button', { name: 'Run now' }).click();
      const trig = page.locator('[data-testid="trigger-result"]');
      await trig.waitFor({ timeout: T });
      assert((await trig.innerText()).includes(name), 'the trigger notice does not name the schedule');
      const trigLink = trig.locator('[data-testid="trigger-task-link"]');
      const trigId = (await trigLink.innerText()).trim();
      await trigLink.click();
      await page.locator(`section.task-detail[data-task-id="${trigId}"][data-status="COMPLETED"]`).waitFor({ timeout: T });
      await page.locator('[data-testid="task-schedule"]', { hasText: name }).waitFor({ timeout: T });

      // Resume.
      await nav(page, 'Schedules');
      await row.getByRole('button', { name: 'Resume', exact: true }).click();
      await page.locator(`tr[data-schedule-name="${name}"][data-paused="false"]`).waitFor({ timeout: T });
      await row.locator('[data-testid="schedule-next"] time').waitFor({ timeout: T });

      // Edit: the form is filled from the schedule; the change shows in the list.
      await row.getByRole('link', { name: 'Edit', exact: true }).click();
      const ef = page.locator('[data-testid="schedule-form"]');
      await ef.waitFor({ timeout: T });
      assert((await ef.locator('input[name="every"]').inputValue()) === '2s', 'the edit form lacks the interval');
      assert((await ef.locator('input[name="name"]').inputValue()) === name, 'the edit form lacks the name');
      assert((await ef.locator('select[name="type"]').inputValue()) === 'echo', 'the edit form lacks the type');
      const input = JSON.parse(await ef.locator('textarea[name="input"]').inputValue());
      assert(input.from === 'a schedule', `the edit form's input: ${JSON.stringify(input)}`);
      await ef.locator('input[name="every"]').fill('1h');
      await ef.locator('select[name="overlap"]').selectOption('SKIP');
      await shot('25-schedule-edit', page, { fullPage: true });
      await ef.getByRole('button', { name: 'Save schedule' }).click();
      await page.waitForURL(/\/schedules#schedule-/, { timeout: T });
      await row.locator('[data-testid="schedule-cadence"]', { hasText: 'every 1h' }).waitFor({ timeout: T });
      await row.locator('[data-testid="schedule-overlap"]', { hasText: 'Skip' }).waitFor({ timeout: T });
      await row.locator('[data-testid="schedule-next"] time', { hasText: /^in (\d+ min|1 h)$/ }).waitFor({ timeout: T });

      // Delete, after a confirmation that names it.
      await row.getByRole('button', { name: 'Delete', exact: true }).click();
      const confirm = row.locator('[data-testid="delete-confirm"]');
      assert((await confirm.innerText()).includes(name), 'the confirmation does not name the schedule');
      await confirm.getByRole('button', { name: 'Yes, delete' }).click();
      await row.waitFor({ state: 'detached', timeout: T });
      await page.locator('[data-testid="delete-result"]', { hasText: name }).waitFor({ timeout: T });
      // Gone for another tab too.
      const other = await newPage();
      await other.goto(`${base}/schedules`);
      await other.locator('table.schedules[aria-busy="false"]').waitFor({ timeout: T });
      await other.locator('tr[data-schedule-name^="e2e-nightly-"]').first().waitFor({ timeout: T });
      assert((await other.locator(`tr[data-schedule-name="${name}"]`).count()) === 0, 'the deleted schedule is listed in another tab');
      await other.context().close();
      assert(await page.evaluate(() => window.__e2eNoReload === true), 'the page reloaded');
    } finally {
      // Never leave a 2-second schedule behind for the scenarios that follow.
      await page
        .evaluate(async (n) => {
          await fetch('/graphql', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ query: 'mutation($n: String!) { deleteSchedule(name: $n) }', variables: { n } }),
          });
        }, name)
        .catch(() => {});
    }
  });

  await scenario('workflows: one submitted through the API shows live in the list, its graph turns COMPLETED step by step, a step leads to its task', async () => {
    await nav(page, 'Workflows');
    await page.getByRole('heading', { name: 'Workflows', exact: true }).waitFor({ timeout: T });
    await page.locator('table.workflows[aria-busy="false"]').waitFor({ timeout: T });
    const stamp = Date.now().toString(36);
    // A small one that ends at once, then a pipeline with work in parallel.
    const quick = await gql(page, SUBMIT_WORKFLOW, {
      input: { name: `e2e-quick-${stamp}`, steps: [{ key: 'only', type: 'echo', input: 'hello' }] },
    });
    const name = `e2e-pipeline-${stamp}`;
    const steps = [
      { key: 'fetch', type: 'echo', input: { url: 'https://example.org/scroll' } },
      { key: 'parse', type: 'sleep', dependsOn: ['fetch'], input: { ms: 6000 } },
      { key: 'thumbs', type: 'sleep', dependsOn: ['fetch'], input: { ms: 1500 } },
      { key: 'index', type: 'sleep', dependsOn: ['parse'], input: { ms: 2000 } },
      { key: 'publish', type: 'echo', dependsOn: ['index', 'thumbs'], input: { indexed: { $ref: 'index.result' } } },
    ];
    const wf = await gql(page, SUBMIT_WORKFLOW, { input: { name, metadata: { requestedBy: 'e2e' }, steps } });
    const id = wf.submitWorkflow.id;
    // Both show without a reload: the list follows the feed.
    const row = page.locator(`tr[data-workflow-id="${id}"]`);
    await row.waitFor({ timeout: T });
    await page.locator(`tr[data-workflow-id="${quick.submitWorkflow.id}"][data-status="COMPLETED"]`).waitFor({ timeout: T });
    assert((await row.innerText()).includes(name), 'the row does not show the name');
    await page.locator(`tr[data-workflow-id="${id}"][data-status="RUNNING"]`).waitFor({ timeout: T });
    await page.locator(`tr[data-workflow-id="${id}"] [data-testid="workflow-progress"]`, { hasText: /^[1-9]\d?%$/ }).waitFor({ timeout: T });
    await shot('27-workflows', page);

    // The graph: a box per step, an arrow per dependency, statuses live.
    await row.locator('[data-testid="workflow-link"]').click();
    await page.waitForURL(new RegExp(`/workflows/${id}$`), { timeout: T });
    const view = page.locator(`section.workflow-detail[data-workflow-id="${id}"]`);
    await view.waitFor({ timeout: T });
    const boxes = page.locator('[data-testid="workflow-graph"] [data-step-key]');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="workflow-graph"] [data-step-key]').length === 5, null, { timeout: T });
    const edges = await page.$$eval('[data-testid="workflow-graph"] path.wf-edge', (ps) => ps.map((p) => `${p.dataset.from}>${p.dataset.to}`).sort());
    assert(
      JSON.stringify(edges) === JSON.stringify(['fetch>parse', 'fetch>thumbs', 'index>publish', 'parse>index', 'thumbs>publish']),
      `edges ${edges}`,
    );
    // Layers left to right: fetch, then parse and thumbs, then index, then publish.
    const xs = await page.$$eval('[data-testid="workflow-graph"] [data-step-key]', (bs) =>
      Object.fromEntries(bs.map((b) => [b.dataset.stepKey, b.getBoundingClientRect().left])),
    );
    assert(xs.fetch < xs.parse && xs.parse === xs.thumbs && xs.parse < xs.index && xs.index < xs.publish, `box positions ${JSON.stringify(xs)}`);
    const publish = page.locator('[data-testid="workflow-graph"] [data-step-key="publish"]');
    const seen = [await publish.getAttribute('data-status')];
    assert(seen[0] === 'WAITING', `publish shows ${seen[0]} at first, want WAITING`);
    // Running: parse in progress (its bar shows), the last steps still waiting.
    await page.locator('[data-step-key="parse"][data-status="IN_PROGRESS"] [role="progressbar"]').waitFor({ timeout: T });
    await page.locator('[data-step-key="index"][data-status="WAITING"]').waitFor({ timeout: T });
    await page.locator('[data-step-key="fetch"][data-status="COMPLETED"]').waitFor({ timeout: T });
    await page.locator('path.wf-edge.done[data-from="fetch"][data-to="parse"]').waitFor({ timeout: T });
    await shot('28-workflow-graph', page, { fullPage: true });
    const deadline = Date.now() + T;
    for (;;) {
      const s = await publish.getAttribute('data-status');
      if (seen[seen.length - 1] !== s) seen.push(s);
      if (s === 'COMPLETED') break;
      assert(Date.now() < deadline, `publish stayed ${s}; saw ${seen.join(' → ')}`);
      await page.waitForTimeout(50);
    }
    await page.locator(`section.workflow-detail[data-workflow-id="${id}"][data-status="COMPLETED"]`).waitFor({ timeout: T });
    assert((await boxes.evaluateAll((bs) => bs.filter((b) => b.dataset.status === 'COMPLETED').length)) === 5, 'not every step shows COMPLETED');
    const progress = await page.locator('[data-testid="workflow-progress-text"]').innerText();
    assert(progress.startsWith('100%') && progress.includes('5 of 5'), `progress "${progress}"`);
    assert((await view.innerText()).includes('requestedBy'), 'the metadata is not shown');
    assert(await page.evaluate(() => window.__e2eNoReload === true), 'the page reloaded');

    // A box leads to its task, which leads back to its workflow.
    const indexTask = await page.locator('[data-step-key="index"]').getAttribute('data-task-id');
    await page.locator('[data-step-key="index"]').click();
    await page.waitForURL(new RegExp(`/tasks/${indexTask}$`), { timeout: T });
    await page.locator('[data-testid="task-step-key"]', { hasText: 'index' }).waitFor({ timeout: T });
    await page.locator('[data-testid="task-workflow"]', { hasText: name }).click();
    await page.waitForURL(new RegExp(`/workflows/${id}$`), { timeout: T });
    // The list's status filter and search (both workflows are COMPLETED now).
    await nav(page, 'Workflows');
    await page.locator('select[name="status"]').selectOption('COMPLETED');
    await page.locator(`tr[data-workflow-id="${quick.submitWorkflow.id}"]`).waitFor({ timeout: T });
    await page.locator('input[name="q"]').fill(name);
    await page.waitForFunction(() => document.querySelectorAll('table.workflows tbody tr').length === 1, null, { timeout: T });
    await row.waitFor({ timeout: T });
    await page.locator('select[name="status"]').selectOption('FAILED');
    await page.getByText('No workflow matches these filters.').waitFor({ timeout: T });
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.locator(`tr[data-workflow-id="${quick.submitWorkflow.id}"]`).waitFor({ timeout: T });
    await row.waitFor({ timeout: T });

    await row.locator('[data-testid="workflow-link"]').click();
    await page.waitForURL(new RegExp(`/workflows/${id}$`), { timeout: T });
    // The steps' tasks in the task list.
    await page.locator('[data-testid="workflow-tasks-link"]').click();
    await page.waitForURL(/\/tasks\?workflow=/, { timeout: T });
    await page.locator('[data-testid="workflow-filter"]').waitFor({ timeout: T });
    await page.waitForFunction(() => document.querySelectorAll('table.tasks tbody tr[data-task-id]').length === 5, null, { timeout: T });
    // WAITING is a status to filter by.
    const options = await page.locator('select[name="status"] option').allInnerTexts();
    assert(options.includes('Waiting'), `status options ${options}`);
  });

  await scenario('workflows: submitted through the form, cancelled and retried from its graph', async () => {
    await nav(page, 'Workflows');
    await page.getByRole('link', { name: '+ New workflow' }).click();
    const form = page.locator('[data-testid="workflow-form"]');
    await form.waitFor({ timeout: T });
    const text = form.locator('textarea[name="workflow"]');
    await text.fill('{ "name": "bad", "steps": [{ "key": "a", "type": "echo", "dependsOn": ["nope"] }] }');
    await page.locator('[data-testid="workflow-check"]', { hasText: 'which is no step' }).waitFor({ timeout: T });
    assert(await form.getByRole('button', { name: 'Submit workflow' }).isDisabled(), 'a bad workflow can be sent');
    const name = `e2e-long-${Date.now().toString(36)}`;
    await text.fill(
      JSON.stringify({
        name,
        steps: [
          { key: 'first', type: 'echo', input: 1 },
          { key: 'long', type: 'sleep', dependsOn: ['first'], input: { ms: 120000 } },
          { key: 'after', type: 'echo', dependsOn: ['long'], input: 2 },
        ],
      }),
    );
    await page.locator('[data-testid="workflow-check"]', { hasText: 'Valid: 3 steps' }).waitFor({ timeout: T });
    await form.getByRole('button', { name: 'Submit workflow' }).click();
    await page.waitForURL(/\/workflows\/(?!new)[^/]+$/, { timeout: T });
    const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
    const view = (s) => page.locator(`section.workflow-detail[data-workflow-id="${id}"][data-status="${s}"]`);
    await page.locator('[data-step-key="long"][data-status="IN_PROGRESS"]').waitFor({ timeout: T });
    await view('RUNNING').getByRole('button', { name: 'Cancel', exact: true }).click();
    const confirm = page.locator('[data-testid="workflow-confirm"]');
    assert((await confirm.innerText()).includes(name), 'the confirmation does not name the workflow');
    await confirm.getByRole('button', { name: 'Yes, cancel' }).click();
    await view('CANCELLED').waitFor({ timeout: T });
    await page.locator('[data-step-key="after"][data-status="CANCELLED"]').waitFor({ timeout: T });
    await page.locator('[data-step-key="first"][data-status="COMPLETED"]').waitFor({ timeout: T });
    await page.locator('[data-testid="workflow-error"]').waitFor({ timeout: T });
    await view('CANCELLED').getByRole('button', { name: 'Retry', exact: true }).click();
    await page.locator('[data-testid="workflow-confirm"]').getByRole('button', { name: 'Yes, retry' }).click();
    await view('RUNNING').waitFor({ timeout: T });
    await page.locator('[data-step-key="long"][data-status="IN_PROGRESS"]').waitFor({ timeout: T });
    await page.locator('[data-step-key="after"][data-status="WAITING"]').waitFor({ timeout: T });
    // Leave nothing running for the scenarios that follow.
    await view('RUNNING').getByRole('button', { name: 'Cancel', exact: true }).click();
    await page.locator('[data-testid="workflow-confirm"]').getByRole('button', { name: 'Yes, cancel' }).click();
    await view('CANCELLED').waitFor({ timeout: T });
  });

  await scenario('workflows: a step that fans out adds steps, and the graph shows them live', async () => {
    // A 1×1 PNG, three times: handouts.scan adds an image.thumbnail step for each.
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    const images = [1, 2, 3].map((i) => ({ name: `map-${i}.png`, image: png }));
    const wf = await gql(page, SUBMIT_WORKFLOW, {
      input: {
        name: `e2e-fan-out-${Date.now().toString(36)}`,
        steps: [
          { key: 'wait', type: 'sleep', input: { ms: 2500 } },
          { key: 'scan', type: 'handouts.scan', dependsOn: ['wait'], input: { images, thumbnail: { sizes: [8] } } },
          { key: 'index', type: 'handouts.index', dependsOn: ['scan'] },
        ],
      },
    });
    const id = wf.submitWorkflow.id;
    await page.goto(`${base}/workflows/${id}`);
    await online(page);
    await page.evaluate(() => (window.__e2eNoReload = true));
    const count = () => page.locator('[data-testid="workflow-graph"] [data-step-key]').count();
    await page.locator('[data-testid="workflow-graph"] [data-step-key="scan"][data-status="WAITING"]').waitFor({ timeout: T });
    assert((await count()) === 3, `${await count()} boxes before the scan ran, want 3`);
    // The scan adds three steps; the index waits for them too.
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="workflow-graph"] [data-step-key]').length === 6, null, { timeout: T });
    await page.locator(`section.workflow-detail[data-workflow-id="${id}"][data-status="COMPLETED"]`).waitFor({ timeout: T });
    const into = await page.$$eval('[data-testid="workflow-graph"] path.wf-edge[data-to="index"]', (ps) => ps.map((p) => p.dataset.from).sort());
    assert(into.length === 4 && into[0] === 'scan', `arrows into index from ${into}`);
    // The added steps are drawn after the scan that added them (not as roots), and the index after them.
    const boxes = await page.$$eval('[data-testid="workflow-graph"] [data-step-key]', (els) =>
      els.map((el) => ({ key: el.dataset.stepKey, by: el.dataset.addedBy ?? null, x: el.getBoundingClientRect().x, text: el.textContent })),
    );
    const scanBox = boxes.find((b) => b.key === 'scan');
    const indexBox = boxes.find((b) => b.key === 'index');
    const addedBoxes = boxes.filter((b) => b.by === 'scan');
    assert(addedBoxes.length === 3, `${addedBoxes.length} boxes added by scan, want 3: ${JSON.stringify(boxes)}`);
    for (const b of addedBoxes) {
      assert(b.x > scanBox.x, `added step ${b.key} at x=${b.x}, not after scan at x=${scanBox.x}`);
      assert(indexBox.x > b.x, `index at x=${indexBox.x}, not after the added step ${b.key} at x=${b.x}`);
      assert(b.text.includes('added by scan'), `the box of ${b.key} does not say it was added by scan: ${b.text}`);
    }
    // One dashed "added by" connector from scan to each added step, titled so, and no arrow of dependency between them.
    const links = await page.$$eval('[data-testid="workflow-graph"] g.wf-added', (gs) =>
      gs.map((g) => ({ from: g.dataset.from, to: g.dataset.to, title: g.querySelector('title')?.textContent, dash: getComputedStyle(g.querySelector('.wf-added-line')).strokeDasharray })),
    );
    assert(
      links.length === 3 && links.every((l) => l.from === 'scan' && l.title === 'added by scan' && l.dash && l.dash !== 'none'),
      `"added by" connectors: ${JSON.stringify(links)}`,
    );
    assert(
      links.map((l) => l.to).sort().join() === addedBoxes.map((b) => b.key).sort().join(),
      `connectors to ${links.map((l) => l.to)}, added steps ${addedBoxes.map((b) => b.key)}`,
    );
    assert((await page.locator('[data-testid="workflow-graph"] path.wf-edge[data-from="scan"]').count()) === 1, 'scan has an arrow to more than index');
    assert((await page.locator('[data-step-key][data-status="COMPLETED"]').count()) === 6, 'not every step shows COMPLETED');
    assert(await page.evaluate(() => window.__e2eNoReload === true), 'the page reloaded');
  });

  await scenario('workflows: a graph of 300 steps draws on a canvas that scrolls, and ends COMPLETED', async () => {
    // Ten chains of thirty steps, each step after the one before it.
    const steps = [];
    for (let c = 0; c < 10; c++) {
      for (let i = 0; i < 30; i++) steps.push({ key: `c${c}-s${i}`, type: 'echo', input: i, ...(i > 0 ? { dependsOn: [`c${c}-s${i - 1}`] } : {}) });
    }
    const wf = await gql(page, SUBMIT_WORKFLOW, { input: { name: `e2e-wide-${Date.now().toString(36)}`, steps } });
    const id = wf.submitWorkflow.id;
    await page.goto(`${base}/workflows/${id}`);
    await online(page);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="workflow-graph"] [data-step-key]').length === 300, null, { timeout: T });
    assert((await page.locator('[data-testid="workflow-graph"] path.wf-edge').count()) === 290, 'not 290 arrows');
    const canvas = await page.locator('[data-testid="workflow-graph"]').evaluate((el) => ({ sw: el.scrollWidth, cw: el.clientWidth }));
    assert(canvas.sw > canvas.cw, `the canvas does not scroll: ${JSON.stringify(canvas)}`);
    await shot('29-workflow-300-steps', page);
    await page.locator(`section.workflow-detail[data-workflow-id="${id}"][data-status="COMPLETED"]`).waitFor({ timeout: 60000 });
    // The last box, far right, can be scrolled to and opened.
    const last = page.locator('[data-step-key="c9-s29"][data-status="COMPLETED"]');
    await last.waitFor({ timeout: T });
    await last.scrollIntoViewIfNeeded();
    await last.click();
    await page.locator('[data-testid="task-step-key"]', { hasText: 'c9-s29' }).waitFor({ timeout: T });
  });

  const limitsScenario = 'limits: one set through the page holds tasks back and says so; a paused type queues its tasks until resumed';
  await scenario(limitsScenario, async () => {
    const SUBMIT = 'mutation($in: SubmitTaskInput!) { submitTask(input: $in) { id } }';
    try {
      if (!page.url().startsWith(base)) await page.goto(`${base}/`); // run alone (E2E_ONLY)
      await nav(page, 'Limits');
      await page.getByRole('heading', { name: 'Limits', exact: true }).waitFor({ timeout: T });
      const form = page.locator('[data-testid="limit-form"]');
      await form.waitFor({ timeout: T });
      // A bound the form can tell is wrong: named at its field, nothing sent.
      await form.locator('select[name="taskType"]').selectOption('sleep');
      await form.locator('input[name="maxConcurrent"]').fill('0');
      await form.getByRole('button', { name: 'Set limit' }).click();
      await form.locator('.field-error', { hasText: 'Max concurrent must be between 1' }).waitFor({ timeout: T });
      // At most one sleep task at once, across the cluster.
      await form.locator('input[name="maxConcurrent"]').fill('1');
      await form.locator('[data-testid="limit-form-id"]', { hasText: 'type=sleep' }).waitFor({ timeout: T });
      await form.getByRole('button', { name: 'Set limit' }).click();
      const row = page.locator('tr[data-limit-id="type=sleep"]');
      await row.waitFor({ timeout: T });
      assert((await row.locator('[data-testid="limit-bounds"]').innerText()).includes('1 at once'), 'bounds of type=sleep');
      await page.locator('[data-testid="limit-note"]', { hasText: 'Set the limit type=sleep' }).waitFor({ timeout: T });

      // Three long sleeps: one runs, the limit holds the others, live.
      for (let i = 0; i < 3; i++) await gql(page, SUBMIT, { in: { type: 'sleep', input: { ms: 15000 } } });
      // (A sleep still running from an earlier scenario may count too.)
      await row.locator('[data-testid="limit-running"]', { hasText: /[1-9]\d* \/ 1/ }).waitFor({ timeout: T });
      await page.waitForFunction(
        () => Number(document.querySelector('tr[data-limit-id="type=sleep"] [data-testid="limit-held"]')?.textContent) >= 2,
        null,
        { timeout: T },
      );
      // Two more for the screenshot: each group separately, and a rate.
      await gql(page, 'mutation($in: LimitInput!) { setLimit(input: $in) { id } }', { in: { taskType: 'dice.simulate', group: '*', maxConcurrent: 2 } });
      await gql(page, 'mutation($in: LimitInput!) { setLimit(input: $in) { id } }', { in: { group: 'campaign-7', ratePerSecond: 2.5 } });
      await page.locator('tr[data-limit-id="group=campaign-7"] [data-testid="limit-bounds"]', { hasText: '2.5/s (burst 3)' }).waitFor({ timeout: T });
      await page.locator('tr[data-limit-id="type=dice.simulate,group=*"]', { hasText: 'at most 2 per group' }).waitFor({ timeout: T });
      await page.waitForTimeout(300);
      await shot('30-limits', page, { fullPage: true });

      // The held tasks say why, in the list.
      await row.locator('[data-testid="limit-held"] a').click();
      await page.waitForURL(/\/tasks\?/, { timeout: T });
      await page.locator('[data-testid="task-held-by"]', { hasText: 'held: limit type=sleep' }).first().waitFor({ timeout: T });

      // Pause a type: its task stays PENDING, held by "paused", until resumed.
      await nav(page, 'Limits');
      const typeRow = page.locator('tr[data-task-type="fail"]');
      await typeRow.getByRole('button', { name: 'Pause' }).click();
      await page.locator('tr[data-task-type="fail"][data-paused="true"]').waitFor({ timeout: T });
      const { submitTask } = await gql(page, SUBMIT, { in: { type: 'fail', input: { times: 0 } } });
      await page.goto(`${base}/tasks/${encodeURIComponent(submitTask.id)}`);
      await page.locator('[data-testid="task-held-by"]', { hasText: 'its type is paused' }).waitFor({ timeout: T });
      await nav(page, 'Limits');
      await typeRow.getByRole('button', { name: 'Resume' }).click();
      await page.locator('tr[data-task-type="fail"][data-paused="false"]').waitFor({ timeout: T });
      await page.waitForFunction(
        async (id) => {
          const r = await fetch('/graphql', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ query: 'query($id: ID!) { task(id: $id) { status } }', variables: { id } }) });
          return (await r.json()).data?.task?.status === 'COMPLETED';
        },
        submitTask.id,
        { timeout: T, polling: 250 },
      );

      // Delete, with a confirmation: the row goes.
      await row.getByRole('button', { name: 'Delete' }).click();
      await row.locator('[data-testid="limit-delete-confirm"]').getByRole('button', { name: 'Yes, delete' }).click();
      await row.waitFor({ state: 'detached', timeout: T });
      await page.locator('[data-testid="limit-note"]', { hasText: 'Deleted the limit type=sleep' }).waitFor({ timeout: T });
    } finally {
      // Leave no limit nor pause behind for the next scenarios.
      const { limits } = await gql(page, '{ limits { id } }').catch(() => ({ limits: [] }));
      for (const l of limits) await gql(page, 'mutation($id: ID!) { deleteLimit(id: $id) }', { id: l.id }).catch(() => {});
      await gql(page, 'mutation { resumeTaskType(type: "fail") }').catch(() => {});
    }
  });

  await scenario('throughput, latency and the per-type and per-node tables come from the cluster, after a reload too', async () => {
    await page.goto(`${base}/`);
    await online(page);
    await page.getByRole('button', { name: '1 h', exact: true }).click();
    // A reload starts from nothing in the tab: what shows comes from the store's rollups.
    await page.reload();
    await online(page);
    await page.evaluate(() => (window.__e2eNoReload = true));
    const throughput = page.locator('[data-testid="throughput-card"] .chart-summary');
    await throughput.filter({ hasText: /^[1-9][\d,]* completed/ }).waitFor({ timeout: T });
    // The completed/s line rises above zero somewhere.
    const risen = await page.evaluate(() => {
      const path = document.querySelector('[data-testid="throughput-card"] svg path');
      const ys = (path?.getAttribute('d') ?? '').match(/[ML][\d.]+,([\d.]+)/g)?.map((m) => Number(m.split(',')[1])) ?? [];
      return ys.length > 1 && Math.min(...ys) < Math.max(...ys);
    });
    assert(risen, 'the throughput chart is flat after a reload');
    await page.locator('[data-testid="latency-card"] .chart-summary', { hasText: 'Wait (submit → start) p50' }).waitFor({ timeout: T });
    const types = page.locator('[data-testid="stats-types"] tbody tr', { hasText: 'sleep' });
    await types.first().waitFor({ timeout: T });
    const nodes = page.locator('[data-testid="stats-nodes"] tbody tr');
    await nodes.first().waitFor({ timeout: T });
    const nodeRows = await nodes.allInnerTexts();
    assert(nodeRows.some((r) => /\d+%/.test(r)), `no utilization in the node table: ${nodeRows.join(' | ')}`);
    // A second tab shows the same figures (it saw none of the events).
    const other = await newPage();
    await other.goto(`${base}/`);
    await online(other);
    await other.getByRole('button', { name: '1 h', exact: true }).click();
    const want = await throughput.innerText();
    await other.locator('[data-testid="throughput-card"] .chart-summary', { hasText: want }).waitFor({ timeout: T });
    await other.context().close();
    await shotOf('21-overview-stats', page.locator('[data-testid="stats-types"]').locator('..'));

    // By group: a group's tasks in its own row; Chart narrows the activity to that group.
    const sg = `e2e-stats-${Date.now().toString(36)}`;
    await gql(page, 'mutation($g: String) { submitTasks(inputs: [{type: "echo", group: $g}, {type: "echo", group: $g}]) { id } }', { g: sg });
    const grow = page.locator(`[data-testid="stats-groups"] tr[data-group="${sg}"]`);
    await grow.locator('td:nth-child(3)', { hasText: /^2$/ }).waitFor({ timeout: T });
    assert((await grow.locator('td:nth-child(2)').innerText()) === '2', 'the group row does not count its 2 submissions');
    await grow.getByRole('button', { name: `Chart the activity of group ${sg}` }).click();
    await page.waitForURL(new RegExp(`\\?group=${sg}`), { timeout: T });
    await throughput.filter({ hasText: `2 completed, 0 failed and 2 submitted in the last 1 h, for group ${sg}.` }).waitFor({ timeout: T });
    await page.locator('[data-testid="stats-group-note"]').waitFor({ timeout: T });
    assert((await page.locator('[data-testid="stats-types"]').count()) === 0, 'the per-type table shows beside one group');
    assert((await page.locator('[data-testid="stats-groups"] tbody tr').count()) === 1, 'other groups are listed beside one group');
    // A reload keeps the group (it is in the address).
    await page.reload();
    await online(page);
    await page.evaluate(() => (window.__e2eNoReload = true));
    await throughput.filter({ hasText: `for group ${sg}.` }).waitFor({ timeout: T });
    await page.locator('.charts-head').scrollIntoViewIfNeeded();
    await shot('32-overview-group-activity', page);
    // All tasks again.
    await page.locator('[data-testid="activity-group-select"]').selectOption('');
    await throughput.filter({ hasText: 'cluster-wide.' }).waitFor({ timeout: T });
    await page.locator('[data-testid="stats-types"]').waitFor({ timeout: T });
  });

  await scenario('drain and resume a node from the UI', async () => {
    await nav(page, 'Nodes');
    const card = page.locator(`[data-node-id="${nodeId}"]`);
    await card.getByRole('button', { name: 'Drain' }).click();
    await page.locator(`[data-node-id="${nodeId}"][data-status="DRAINING"]`).waitFor({ timeout: T });
    await card.getByRole('button', { name: 'Resume' }).click();
    await page.locator(`[data-node-id="${nodeId}"][data-status="ONLINE"]`).waitFor({ timeout: T });
  });

  await scenario('configuration change is applied on the node', async () => {
    await nav(page, 'Configuration');
    const workers = page.getByLabel('Workers per node');
    await workers.waitFor({ timeout: T });
    const before = Number(await page.locator('[data-testid="config-version-current"]').innerText());
    const old = await workers.inputValue();
    // Validation: out of range is refused in the form.
    await workers.fill('0');
    await page.getByText('Workers: a whole number from 1 to 10000').waitFor({ timeout: T });
    await workers.fill('6');
    await page.getByRole('button', { name: 'Save 1 change' }).click();
    await page.locator('[data-testid="config-saved"]', { hasText: `Saved version ${before + 1}` }).waitFor({ timeout: T });
    await page
      .locator(`tr[data-node-id="${nodeId}"] [data-testid="node-config-version"]`, { hasText: `v${before + 1} ✓ applied` })
      .waitFor({ timeout: T });
    await nav(page, 'Nodes');
    await page.locator(`[data-node-id="${nodeId}"] [data-testid="workers"]`, { hasText: '/ 6 busy' }).waitFor({ timeout: T });
    await nav(page, 'Configuration');
    await page.getByLabel('Workers per node').fill(old);
    await page.getByRole('button', { name: 'Save 1 change' }).click();
    await page.locator('[data-testid="config-saved"]', { hasText: `Saved version ${before + 2}` }).waitFor({ timeout: T });
  });

  // clickSave clicks a form's Save; when it stays disabled, the error says
  // what the form holds and what the card shows (a disabled Save means the
  // form sees no change from the node it opened on, or an invalid field).
  async function clickSave(form, card) {
    try {
      await form.getByRole('button', { name: 'Save' }).click({ timeout: T });
    } catch (err) {
      const fields = await form
        .locator('input, select')
        .evaluateAll((els) => els.map((e) => `${e.id.replace(/^.*-/, '')}=${JSON.stringify(e.value)}`).join(' '))
        .catch(() => '?');
      const shown = (await card.innerText().catch(() => '?')).replace(/\s+/g, ' ').slice(0, 400);
      throw new Error(`${String(err.message).split('\n')[0]} | form: ${fields} | card: ${shown}`);
    }
  }

  await scenario('edit a node from the UI: name, role, workers and capabilities apply live', async () => {
    await nav(page, 'Nodes');
    const sel = `[data-node-id="${nodeId}"]`;
    const card = page.locator(sel);
    const oldName = (await card.locator('.node-name').innerText()).trim();
    const oldWorkers = (await card.locator('[data-testid="workers"]').innerText()).match(/\/ (\d+) busy/)?.[1];
    assert(oldWorkers, 'no worker count on the card');
    const UPDATE_NODE = 'mutation($id: ID!, $in: NodeInput!) { updateNode(id: $id, input: $in) { id } }';
    try {
      await card.locator(`.badge.tone-leader`).waitFor({ timeout: T });
      await card.getByRole('button', { name: 'Edit' }).click();
      const form = card.locator('[data-testid="node-edit"]');
      await form.waitFor({ timeout: T });
      // Validation in the form: nothing is sent.
      await form.getByLabel('Workers').fill('0');
      await form.getByText('Workers: a whole number from 1 to 10000').waitFor({ timeout: T });
      assert(await form.getByRole('button', { name: 'Save' }).isDisabled(), 'Save is enabled with 0 workers');
      await form.getByLabel('Name').fill('scribe-e2e');
      await form.getByLabel('Role').selectOption('WORKER');
      await form.getByText('gives up leadership at once').waitFor({ timeout: T });
      await form.getByLabel('Workers').fill('3');
      await form.getByLabel('Capabilities').fill('echo, sleep, dice.*');
      // The open form makes the card taller than the window: grow it for the shot.
      await page.setViewportSize({ width: 1400, height: 1300 });
      await shotOf('21-node-edit', card);
      await page.setViewportSize({ width: 1400, height: 900 });
      await form.getByRole('button', { name: 'Save' }).click();
      await form.waitFor({ state: 'detached', timeout: T });
      await page.locator(`${sel} .node-name`, { hasText: 'scribe-e2e' }).waitFor({ timeout: T });
      await page.locator(`${sel} [data-testid="role"]`, { hasText: 'Worker' }).waitFor({ timeout: T });
      await page.locator(`${sel} [data-testid="workers"]`, { hasText: '/ 3 busy' }).waitFor({ timeout: T });
      await page.locator(`${sel} .node-caps .chip`, { hasText: 'dice.*' }).waitFor({ timeout: T });
      // The node gives up leadership, live: its next heartbeat says so.
      await card.locator('.badge.tone-leader').waitFor({ state: 'detached', timeout: T });
      // Back to HYBRID, its name and any type: it leads again, live.
      await card.getByRole('button', { name: 'Edit' }).click();
      await form.getByLabel('Role').selectOption('HYBRID');
      await form.getByLabel('Name').fill(oldName);
      await form.getByLabel('Workers').fill(oldWorkers);
      await form.getByLabel('Capabilities').fill('');
      await clickSave(form, card);
      await form.waitFor({ state: 'detached', timeout: T });
      await card.locator('.badge.tone-leader').waitFor({ timeout: T });
      await page.locator(`${sel} [data-testid="role"]`, { hasText: 'Hybrid' }).waitFor({ timeout: T });
      await page.locator(`${sel} .node-caps`, { hasText: 'any type' }).waitFor({ timeout: T });
      // A change made elsewhere while the form is open is not undone by it:
      // Save sends only what was changed in the form.
      const more = String(Number(oldWorkers) + 1);
      await card.getByRole('button', { name: 'Edit' }).click();
      await form.getByLabel('Workers').fill(more);
      await gql(page, UPDATE_NODE, { id: nodeId, in: { name: 'renamed-elsewhere' } });
      await page.locator(`${sel} .node-name`, { hasText: 'renamed-elsewhere' }).waitFor({ timeout: T });
      await form.getByRole('button', { name: 'Save' }).click();
      await form.waitFor({ state: 'detached', timeout: T });
      await page.locator(`${sel} [data-testid="workers"]`, { hasText: `/ ${more} busy` }).waitFor({ timeout: T });
      const nameNow = (await card.locator('.node-name').innerText()).trim();
      assert(nameNow === 'renamed-elsewhere', `the form undid a rename made meanwhile: the name is ${nameNow}`);
      await gql(page, UPDATE_NODE, { id: nodeId, in: { name: oldName, workers: Number(oldWorkers) } });
      await page.locator(`${sel} [data-testid="workers"]`, { hasText: `/ ${oldWorkers} busy` }).waitFor({ timeout: T });
      await page.locator(`${sel} .node-name`, { hasText: oldName }).waitFor({ timeout: T });
      assert(await page.evaluate(() => window.__e2eNoReload === true), 'the page reloaded');
    } catch (err) {
      // Leave the node as the scenarios after this one need it (leading, running any type).
      await gql(page, UPDATE_NODE, { id: nodeId, in: { name: oldName, role: 'HYBRID', workers: Number(oldWorkers), capabilities: [] } }).catch(() => {});
      throw err;
    }
  });

  await scenario(
    'stays responsive while 10,000 tasks go through',
    async () => {
      await nav(page, 'Overview');
      const completed = async () =>
        Number((await page.locator('[data-testid="count-COMPLETED"] .status-count').innerText()).replace(/[^0-9]/g, ''));
      await page.locator('[data-testid="count-COMPLETED"]').waitFor({ timeout: T });
      const before = await completed();
      await page.evaluate(() => {
        window.__e2eLong = [];
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) window.__e2eLong.push(Math.round(e.duration));
        }).observe({ type: 'longtask' });
      });
      await nav(page, 'Tasks');
      await page.locator('tr[data-task-id]').first().waitFor({ timeout: T });
      const started = Date.now();
      await ask('bulk 10000');
      // While the events pour in, the page answers at once.
      const switches = [];
      for (const [link, heading] of [
        ['Overview', 'Overview'],
        ['Nodes', 'Nodes'],
        ['Tasks', 'Tasks'],
        ['Overview', 'Overview'],
      ]) {
        const t = Date.now();
        await nav(page, link);
        await page.getByRole('heading', { name: heading, exact: true }).waitFor({ timeout: T });
        switches.push(Date.now() - t);
      }
      // A good part of them run while the page follows (the rest drain in
      // the background during the next scenarios: they are LOW).
      await page.waitForFunction(
        (want) => {
          const el = document.querySelector('[data-testid="count-COMPLETED"] .status-count');
          return el && Number(el.textContent.replace(/[^0-9]/g, '')) >= want;
        },
        before + 3000,
        { timeout: 180000, polling: 500 },
      );
      const long = await page.evaluate(() => window.__e2eLong);
      const longest = Math.max(0, ...long);
      console.log(
        `INFO 10,000 tasks submitted, 3,000 done in ${Date.now() - started} ms; view switches ${switches.join(', ')} ms; ` +
          `${long.length} long tasks, the longest ${longest} ms`,
      );
      assert(Math.max(...switches) < 3000, `a view switch took ${Math.max(...switches)} ms`);
      assert(longest < 1000, `the page froze for ${longest} ms`);
      // The list pages through them.
      await nav(page, 'Tasks');
      await page.locator('[data-testid="task-range"]', { hasText: /of 10,\d{3}/ }).waitFor({ timeout: T });
      await page.getByRole('button', { name: 'Older →' }).click();
      await page.locator('[data-testid="task-range"]', { hasText: /^51–100 of/ }).waitFor({ timeout: T });
      await page.getByRole('button', { name: '← Newer' }).click();
      await page.locator('[data-testid="task-range"]', { hasText: /^1–50 of/ }).waitFor({ timeout: T });
    },
    { needsDriver: true },
  );

  await scenario('screenshots of every view', async () => {
    let diceId = '';
    if (interactive) diceId = await ask('seed');
    await nav(page, 'Overview');
    await page.waitForTimeout(interactive ? 6000 : 1000); // let the charts and sparklines fill a little
    await shot('01-overview', page, { fullPage: true });
    await nav(page, 'Nodes');
    await page.waitForTimeout(300);
    await shot('02-nodes', page);
    await nav(page, 'Tasks');
    await page.locator('tr[data-task-id]').first().waitFor({ timeout: T });
    await page.waitForTimeout(300);
    await shot('03-tasks', page);
    const detailId = diceId || formTaskId;
    if (detailId) {
      await page.goto(`${base}/tasks/${encodeURIComponent(detailId)}`); // direct link: the server serves index.html
      await page.locator(`section.task-detail[data-task-id="${detailId}"][data-status="COMPLETED"]`).waitFor({ timeout: T });
      await shot('04-task-detail', page, { fullPage: true });
    }
    await page.goto(`${base}/tasks/new`);
    await online(page);
    await page.getByLabel('Type').selectOption('dice.simulate');
    await shot('05-new-task', page);
    await page.goto(`${base}/config`);
    await page.getByLabel('Workers per node').waitFor({ timeout: T });
    await shot('06-config', page, { fullPage: true });

    // Dark: the system's preference, and the toggle.
    const dark = await newPage({ colorScheme: 'dark' });
    await dark.goto(`${base}/`);
    await online(dark);
    const bg = await dark.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert(bg !== 'rgb(244, 245, 247)', `dark preference ignored (background ${bg})`);
    await dark.waitForTimeout(500);
    await shot('07-overview-dark', dark, { fullPage: true });
    await nav(dark, 'Nodes');
    await dark.waitForTimeout(300);
    await shot('08-nodes-dark', dark);
    await dark.context().close();
    // The toggle: system -> light -> dark, kept across visits.
    const toggle = page.locator('[data-testid="theme-toggle"]');
    await toggle.click();
    await toggle.click();
    assert((await page.evaluate(() => document.documentElement.dataset.theme)) === 'dark', 'toggle did not set dark');
    await nav(page, 'Tasks');
    await page.locator('tr[data-task-id]').first().waitFor({ timeout: T });
    await shot('09-tasks-dark', page);
    await toggle.click(); // back to system
    assert((await page.evaluate(() => document.documentElement.dataset.theme)) === undefined, 'toggle did not go back to system');

    // Phone width.
    const phone = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    await phone.goto(`${base}/`);
    await online(phone);
    await phone.waitForTimeout(500);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 1, `the overview is ${overflow}px wider than a phone`);
    await shot('10-phone-overview', phone);
    // The per-type and per-node tables at phone width (they scroll sideways inside their cards).
    await phone.locator('[data-testid="stats-nodes"] tbody tr').first().waitFor({ timeout: T });
    await shotOf('22-phone-overview-stats', phone.locator('[data-testid="stats-types"]').locator('..'));
    await nav(phone, 'Nodes');
    await phone.locator('[data-node-id]').first().waitFor({ timeout: T });
    await shot('11-phone-nodes', phone);
    await nav(phone, 'Tasks');
    await phone.locator('tr[data-task-id]').first().waitFor({ timeout: T });
    const overflowTasks = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflowTasks <= 1, `the task list is ${overflowTasks}px wider than a phone`);
    await shot('12-phone-tasks', phone);
    await phone.context().close();
  });

  await scenario(
    'page survives a node restart without a reload',
    async () => {
      await page.goto(`${base}/nodes`);
      await online(page);
      await page.evaluate(() => (window.__e2eNoReload = true));
      await page.locator(`[data-node-id="${nodeId}"][data-status="ONLINE"]`).waitFor({ timeout: T });
      await ask('kill');
      await page.locator('[data-testid="connection"][data-state="offline"]').waitFor({ timeout: T });
      await page.locator('[data-testid="connection-banner"][data-state="offline"]').waitFor({ timeout: T });
      await shot('13-connection-lost', page);
      await ask('restart');
      await page.locator('[data-testid="connection"][data-state="online"]').waitFor({ timeout: 30000 });
      await page.locator('[data-testid="connection-banner"][data-state="recovered"]').waitFor({ timeout: T });
      await page.locator(`[data-node-id="${nodeId}"][data-status="ONLINE"]`).waitFor({ timeout: T });
      // Data again: the heartbeat is fresh, and the tasks from before are listed.
      await page.locator(`[data-node-id="${nodeId}"] time`, { hasText: /just now|^\d s ago/ }).waitFor({ timeout: T });
      if (formTaskId) {
        await nav(page, 'Tasks');
        await page.getByRole('searchbox', { name: 'Search' }).fill(formTaskId);
        await page.locator(`tr[data-task-id="${formTaskId}"][data-status="COMPLETED"]`).waitFor({ timeout: T });
        await page.getByRole('button', { name: 'Clear filters' }).click();
      }
      // And live again: a task submitted now shows up.
      const id = await ask('submit-api');
      await page.locator(`tr[data-task-id="${id}"][data-status="COMPLETED"]`).waitFor({ timeout: T });
      assert(await page.evaluate(() => window.__e2eNoReload === true), 'the page reloaded');
    },
    { needsDriver: true },
  );
}

async function clusterScenarios() {
  await scenario(`a cluster of ${nodeCount} nodes is shown`, async () => {
    await page.goto(`${base}/nodes`);
    await online(page);
    await page.evaluate(() => (window.__e2eNoReload = true));
    await page.waitForFunction(
      (n) => document.querySelectorAll('[data-node-id][data-status="ONLINE"]').length === n,
      nodeCount,
      { timeout: 60000, polling: 250 },
    );
    const leaders = await page.locator('.node-card .tone-leader').count();
    assert(leaders === 1, `${leaders} leader badges, want 1`);
    const total = await page.locator('[data-node-id]').count();
    assert(total === nodeCount, `${total} cards, want ${nodeCount}`);
    // The header counts the firing alerts on every view.
    await page.locator('[data-testid="alerts-badge"][data-count]').waitFor({ timeout: T });
  });

  await scenario(`the page keeps up with ${nodeCount} nodes heartbeating`, async () => {
    await page.evaluate(() => {
      window.__e2eLong = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__e2eLong.push(Math.round(e.duration));
      }).observe({ type: 'longtask' });
    });
    await page.waitForTimeout(8000);
    const long = await page.evaluate(() => window.__e2eLong);
    const t = Date.now();
    await nav(page, 'Overview');
    await page.getByRole('heading', { name: 'Overview', exact: true }).waitFor({ timeout: T });
    const sw = Date.now() - t;
    console.log(`INFO ${nodeCount} nodes: ${long.length} long tasks in 8 s, the longest ${Math.max(0, ...long)} ms; a view switch ${sw} ms`);
    await page.locator('[data-testid="nodes-total"]', { hasText: String(nodeCount) }).waitFor({ timeout: T });
    await nav(page, 'Nodes');
    await page.waitForTimeout(1000);
    await shot(`14-cluster-${nodeCount}-nodes`, page);
    // Generous: the nodes themselves run on the same small machine.
    assert(sw < 5000, `a view switch took ${sw} ms`);
  });

  /**
   * The Overview's rows of one alert (rule:subject) in a status, of one
   * occurrence (its startedAt) if given. Under load a healthy node may miss
   * heartbeats long enough for a brief node_offline alert: assertions
   * follow the occurrence the test caused, not a count of rows.
   */
  const alertRow = (id, status, startedAt) =>
    page.locator(
      `[data-testid="alert"][data-alert-id="${id}"][data-status="${status}"]` +
        (startedAt ? `[data-started-at="${startedAt}"]` : ''),
    );
  /** The header's count of firing alerts, and of the critical ones. */
  const badgeCounts = async () => {
    const b = page.locator('[data-testid="alerts-badge"]');
    return { firing: Number(await b.getAttribute('data-count')), critical: Number(await b.getAttribute('data-critical')) };
  };

  await scenario('the per-node table lists every node of the cluster', async () => {
    await nav(page, 'Overview');
    const rows = page.locator('[data-testid="stats-nodes"] tbody tr');
    await page.waitForFunction(
      (n) => document.querySelectorAll('[data-testid="stats-nodes"] tbody tr').length >= n,
      Math.min(nodeCount, 100),
      { timeout: 30000 },
    );
    assert((await rows.count()) >= Math.min(nodeCount, 100), 'nodes missing from the per-node table');
  });

  await scenario('an alert fires and resolves live: a task pending too long', async () => {
    await nav(page, 'Overview');
    await page.locator('[data-testid="alerts"]').waitFor({ timeout: T });
    const submitted = Number(await ask('pending-burst'));
    // More tasks than workers: some wait PENDING past --alert-pending-age.
    const firing = alertRow('pending_too_old:cluster', 'FIRING');
    await firing.waitFor({ timeout: 30000 });
    const started = await firing.getAttribute('data-started-at');
    const text = await firing.innerText();
    for (const want of ['Warning', 'Task pending too long', 'Cluster', 'pending for', 'Started']) {
      assert(text.includes(want), `the alert lacks "${want}": ${text}`);
    }
    const tone = await page.locator('[data-testid="alerts-badge"]').getAttribute('class');
    const { firing: n } = await badgeCounts();
    assert(n >= 1 && /level-(warn|bad)/.test(tone), `header badge: ${n} firing, class "${tone}"`);
    // Once every task runs, it resolves by itself: the row moves to the
    // resolved ones, with when it resolved and how long it lasted.
    const resolved = alertRow('pending_too_old:cluster', 'RESOLVED', started);
    await resolved.waitFor({ timeout: 30000 });
    assert((await alertRow('pending_too_old:cluster', 'FIRING', started).count()) === 0, 'the alert is both firing and resolved');
    const rtext = await resolved.innerText();
    assert(rtext.includes('Resolved') && rtext.includes('lasted'), `resolved alert: ${rtext}`);
    // Let the tasks finish, so that none is running on the node killed next.
    await page.waitForFunction(
      (want) => {
        const el = document.querySelector('[data-testid="count-COMPLETED"] .status-count');
        return el && Number(el.textContent.replace(/[^0-9]/g, '')) >= want;
      },
      submitted,
      { timeout: 60000, polling: 250 },
    );
  }, { needsDriver: true });

  let victim = '';
  let offlineSince = ''; // the startedAt of the victim's node_offline alert
  await scenario('a stopped node turns OFFLINE on screen and its node_offline alert shows live', async () => {
    await nav(page, 'Nodes');
    victim = await ask('kill-one');
    // No event says a node stopped: the page sees its heartbeats stop.
    await page.locator(`[data-node-id="${victim}"][data-status="OFFLINE"]`).waitFor({ timeout: 30000 });
    await page.locator(`[data-node-id="${victim}"]`).scrollIntoViewIfNeeded();
    await shot('15-node-offline', page);
    // The header counts the critical alert on every view (here, Nodes).
    await page.waitForFunction(
      () => Number(document.querySelector('[data-testid="alerts-badge"]')?.dataset.critical) >= 1,
      null,
      { timeout: 30000 },
    );
    // Keyboard: the badge leads to the Overview's alerts, which take the focus.
    await page.locator('[data-testid="alerts-badge"]').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement?.id === 'alerts', null, { timeout: T });
    assert(new URL(page.url()).pathname === '/', `the badge led to ${page.url()}`);
    const firing = alertRow(`node_offline:${victim}`, 'FIRING');
    await firing.waitFor({ timeout: T });
    offlineSince = await firing.getAttribute('data-started-at');
    const top = await page.evaluate(() => document.getElementById('alerts').getBoundingClientRect().top);
    assert(top >= 0 && top < 300, `the alerts are not scrolled into view (top ${top})`);
    const text = await firing.innerText();
    for (const want of ['Critical', 'Node offline', victim, 'Started']) assert(text.includes(want), `the alert lacks "${want}": ${text}`);
    // Firing alerts come first.
    const first = page.locator('[data-testid="alert"]').first();
    assert((await first.getAttribute('data-status')) === 'FIRING', 'a resolved alert is listed before a firing one');
    // Its subject is the node, linked to its card.
    const link = firing.locator('[data-testid="alert-node-link"]');
    assert((await link.getAttribute('href')) === `/nodes#node-${victim}`, `subject link ${await link.getAttribute('href')}`);
    await page.locator('.tile', { hasText: '1 offline' }).waitFor({ timeout: T });
    // The link shows the node.
    await link.click();
    await page.locator(`[data-node-id="${victim}"][data-status="OFFLINE"]`).waitFor({ timeout: T });
    assert(new URL(page.url()).pathname === '/nodes', `the subject link led to ${page.url()}`);
  }, { needsDriver: true });

  await scenario('a removed node has its alert resolved, and comes back', async () => {
    assert(victim, 'no node was stopped');
    await nav(page, 'Nodes');
    // An offline node can be forgotten; it comes back when it heartbeats again.
    await page.locator(`[data-node-id="${victim}"]`).getByRole('button', { name: 'Remove' }).click();
    await page.locator(`[data-node-id="${victim}"]`).waitFor({ state: 'detached', timeout: T });
    // The cluster no longer lists it: its alert resolves.
    await nav(page, 'Overview');
    await alertRow(`node_offline:${victim}`, 'RESOLVED', offlineSince).waitFor({ timeout: T });
    assert((await alertRow(`node_offline:${victim}`, 'FIRING').count()) === 0, 'the removed node\'s alert still fires');
    await nav(page, 'Nodes');
    await ask('restart-one');
    await page.locator(`[data-node-id="${victim}"][data-status="ONLINE"]`).waitFor({ timeout: 30000 });
    assert(await page.evaluate(() => window.__e2eNoReload === true), 'the page reloaded');
  }, { needsDriver: true });

  await scenario('a node_offline alert fires again, and resolves when the node is back', async () => {
    assert(victim, 'no node was stopped');
    await nav(page, 'Overview');
    await page.locator('[data-testid="alerts"]').waitFor({ timeout: T });
    await ask('kill-one');
    // A new firing of the same alert, listed apart from the resolved one.
    const firing = page.locator(
      `[data-testid="alert"][data-alert-id="node_offline:${victim}"][data-status="FIRING"]:not([data-started-at="${offlineSince}"])`,
    );
    await firing.waitFor({ timeout: 30000 });
    const again = await firing.getAttribute('data-started-at');
    assert((await alertRow(`node_offline:${victim}`, 'RESOLVED', offlineSince).count()) === 1, 'the earlier, resolved alert is gone');
    const { critical } = await badgeCounts();
    assert(critical >= 1, `header: ${critical} critical alerts`);
    await page.locator('[data-testid="alerts"]').scrollIntoViewIfNeeded();
    await page.waitForTimeout(300);
    await shotOf('16-alerts', page.locator('[data-testid="alerts"]'));
    await ask('restart-one');
    // Heartbeats again: it resolves.
    await alertRow(`node_offline:${victim}`, 'RESOLVED', again).waitFor({ timeout: 30000 });
    assert((await alertRow(`node_offline:${victim}`, 'FIRING', again).count()) === 0, 'the alert still fires with the node back');
    await nav(page, 'Nodes');
    await page.locator(`[data-node-id="${victim}"][data-status="ONLINE"]`).waitFor({ timeout: 30000 });
    assert(await page.evaluate(() => window.__e2eNoReload === true), 'the page reloaded');
  }, { needsDriver: true });
}


async function authScenarios() {
  const keys = {
    viewer: process.env.E2E_KEY_VIEWER || '',
    operator: process.env.E2E_KEY_OPERATOR || '',
    admin: process.env.E2E_KEY_ADMIN || '',
  };
  assert(keys.viewer && keys.operator && keys.admin, 'E2E_KEY_VIEWER, E2E_KEY_OPERATOR and E2E_KEY_ADMIN are needed');
  const insecureUrl = (process.env.ARCHIVIST_INSECURE_URL || '').replace(/\/+$/, '');
  if (insecureUrl) ownOrigins.push(insecureUrl);

  // The WebSockets the page opens (the current document's): sign-out must close them.
  await page.addInitScript(() => {
    const Native = window.WebSocket;
    window.__e2eSockets = [];
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        window.__e2eSockets.push(this);
      }
    };
  });
  const openSockets = () => page.evaluate(() => window.__e2eSockets.filter((ws) => ws.readyState !== WebSocket.CLOSED).length);

  const signInScreen = () => page.getByRole('heading', { name: 'Sign in', exact: true });
  const keyField = () => page.getByLabel('API key');
  async function signIn(key) {
    await signInScreen().waitFor({ timeout: T });
    await keyField().fill(key);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }
  const role = () => page.locator('[data-testid="session-role"]');
  const stored = () => page.evaluate(() => ({ session: { ...sessionStorage }, local: { ...localStorage } }));
  /** The key must be in sessionStorage only: never in localStorage, never in the URL. */
  async function keptInTabOnly(key) {
    const st = await stored();
    assert(st.session['archivist.apiKey'] === key, `sessionStorage holds ${JSON.stringify(Object.keys(st.session))}, not the key`);
    assert(!JSON.stringify(st.local).includes(key), 'the key is in localStorage');
    assert(!page.url().includes(key), `the key is in the URL ${page.url()}`);
  }

  await scenario('a node with keys shows the sign-in screen', async () => {
    await page.goto(`${base}/`);
    await signInScreen().waitFor({ timeout: T });
    assert((await keyField().getAttribute('type')) === 'password', 'the key field is not a password field');
    assert(await keyField().evaluate((el) => el === document.activeElement), 'the key field does not have the focus');
    assert((await page.locator('nav[aria-label="Main"]').count()) === 0, 'the dashboard shows before sign-in');
    assert((await page.locator('[data-testid="connection"]').count()) === 0, 'the dashboard connects before sign-in');
    const help = await page.locator('.gate-help').innerText();
    assert(help.includes('archivist token create') && help.includes('playground'), `no sign-in hint: ${help}`);
    await shot('17-sign-in', page);
  });

  await scenario('a wrong key is refused with a message', async () => {
    await signIn('not-a-key-of-this-node-0000');
    await page.locator('[data-testid="signin-error"]', { hasText: 'That key was not accepted' }).waitFor({ timeout: T });
    assert((await keyField().getAttribute('aria-invalid')) === 'true', 'the field is not marked invalid');
    assert(Object.keys((await stored()).session).length === 0, 'a refused key was kept');
    assert((await page.locator('[data-testid="connection"]').count()) === 0, 'the dashboard shows after a refused key');
  });

  await scenario('a viewer key shows live data but no actions', async () => {
    await signIn(keys.viewer);
    await online(page);
    await page.evaluate(() => (window.__e2eNoReload = true));
    await role().filter({ hasText: 'viewer' }).waitFor({ timeout: T });
    assert((await role().getAttribute('data-role')) === 'VIEWER', 'role attribute');
    await keptInTabOnly(keys.viewer);
    // Nodes, live: heartbeats fill the sparklines. No Drain, no Resume.
    await nav(page, 'Nodes');
    const card = page.locator('[data-node-id]').first();
    await card.waitFor({ timeout: T });
    nodeId ||= await card.getAttribute('data-node-id');
    await page.waitForFunction(() => document.querySelector('[data-node-id] .sparkline polyline') !== null, null, { timeout: T });
    for (const name of ['Drain', 'Resume', 'Remove', 'Edit']) {
      assert((await card.getByRole('button', { name }).count()) === 0, `a viewer sees ${name}`);
    }
    // Tasks: no way to submit; a task submitted elsewhere shows up live.
    await nav(page, 'Tasks');
    await page.locator('[data-testid="task-range"]', { hasNotText: 'Loading' }).waitFor({ timeout: T });
    assert((await page.getByRole('link', { name: '+ New task' }).count()) === 0, 'a viewer sees + New task');
    if (interactive) {
      const id = await ask('submit-api');
      await page.locator(`tr[data-task-id="${id}"][data-status="COMPLETED"]`).waitFor({ timeout: T });
      await shot('18-viewer-tasks', page);
      // The task: no Cancel, no Retry.
      await page.locator(`tr[data-task-id="${id}"] a`).first().click();
      await page.locator(`section.task-detail[data-task-id="${id}"]`).waitFor({ timeout: T });
      for (const name of ['Cancel', 'Retry']) {
        assert((await page.getByRole('button', { name, exact: true }).count()) === 0, `a viewer sees ${name}`);
      }
    }
    // The form's address says why instead.
    await page.goto(`${base}/tasks/new`);
    await page.locator('[data-testid="not-allowed"][data-action="submitTask"]').waitFor({ timeout: T });
    assert((await page.getByRole('button', { name: 'Submit task' }).count()) === 0, 'a viewer sees the submit form');
    // Workflows read, with no New workflow; the form's address says why.
    await nav(page, 'Workflows');
    await page.locator('table.workflows[aria-busy="false"]').waitFor({ timeout: T });
    assert((await page.getByRole('link', { name: '+ New workflow' }).count()) === 0, 'a viewer sees + New workflow');
    await page.goto(`${base}/workflows/new`);
    await page.locator('[data-testid="not-allowed"][data-action="submitWorkflow"]').waitFor({ timeout: T });
    // The configuration reads, and cannot be changed.
    await nav(page, 'Configuration');
    await page.locator('[data-testid="not-allowed"][data-action="updateConfig"]').waitFor({ timeout: T });
    assert(await page.getByLabel('Workers per node').isDisabled(), 'a viewer can edit the configuration');
    assert((await page.locator('.sticky-actions').count()) === 0, 'a viewer sees the save button');
  });

  await scenario('sign-out returns to the sign-in screen and closes the connection', async () => {
    await page.locator('[data-testid="sign-out"]').click();
    await signInScreen().waitFor({ timeout: T });
    await page.locator('[data-testid="signin-message"]', { hasText: 'You signed out' }).waitFor({ timeout: T });
    const st = await stored();
    assert(!('archivist.apiKey' in st.session), 'the key is still in sessionStorage');
    const deadline = Date.now() + T;
    for (let n = await openSockets(); n > 0; n = await openSockets()) {
      assert(Date.now() < deadline, `${n} WebSockets still open after sign-out`);
      await page.waitForTimeout(50);
    }
  });

  let operatorTask = '';
  await scenario('an operator key submits a task and sees it complete live', async () => {
    await signIn(keys.operator);
    await online(page);
    await role().filter({ hasText: 'operator' }).waitFor({ timeout: T });
    await keptInTabOnly(keys.operator);
    await nav(page, 'Tasks');
    await page.getByRole('link', { name: '+ New task' }).click();
    await page.getByRole('heading', { name: 'New task' }).waitFor({ timeout: T });
    await page.getByLabel('Type').selectOption('sleep');
    await page.getByLabel('Input (JSON)').fill('{ "ms": 1500 }');
    await page.getByRole('button', { name: 'Submit task' }).click();
    await page.waitForURL(/\/tasks\/(?!new)[^/]+$/, { timeout: T });
    operatorTask = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
    const detail = page.locator(`section.task-detail[data-task-id="${operatorTask}"]`);
    await detail.waitFor({ timeout: T });
    const first = await detail.getAttribute('data-status');
    // Live over the WebSocket, which the node let in with the key in connection_init.
    await page.locator(`section.task-detail[data-task-id="${operatorTask}"][data-status="COMPLETED"]`).waitFor({ timeout: T });
    assert(first !== 'COMPLETED', 'the task was COMPLETED when its page showed: no live change seen');
    assert((await page.getByRole('button', { name: 'Retry', exact: true }).count()) === 1, 'an operator has no Retry');
    assert((await page.getByRole('button', { name: 'Cancel', exact: true }).count()) === 1, 'an operator has no Cancel');
    // Nodes can be drained; the configuration still needs an admin.
    await nav(page, 'Nodes');
    await page.locator(`[data-node-id="${nodeId}"]`).getByRole('button', { name: 'Drain' }).waitFor({ timeout: T });
    assert((await page.locator(`[data-node-id="${nodeId}"]`).getByRole('button', { name: 'Edit' }).count()) === 0, 'an operator can edit a node');
    await nav(page, 'Configuration');
    await page.locator('[data-testid="not-allowed"][data-action="updateConfig"]').waitFor({ timeout: T });
    assert((await page.locator('.sticky-actions').count()) === 0, 'an operator sees the save button');
  });

  await scenario('a reload in the same tab keeps the session', async () => {
    await page.evaluate(() => (window.__e2eBeforeReload = true));
    await page.reload();
    await online(page);
    assert(await page.evaluate(() => window.__e2eBeforeReload === undefined), 'the page did not reload');
    await role().filter({ hasText: 'operator' }).waitFor({ timeout: T });
    assert((await signInScreen().count()) === 0, 'the sign-in screen came back');
    // Still live after the reload: a task submitted now appears.
    await nav(page, 'Tasks');
    await page.locator('[data-testid="task-range"]', { hasNotText: 'Loading' }).waitFor({ timeout: T });
    if (interactive) {
      const id = await ask('submit-api');
      await page.locator(`tr[data-task-id="${id}"][data-status="COMPLETED"]`).waitFor({ timeout: T });
    }
  });

  await scenario('an admin key can change the configuration', async () => {
    await page.locator('[data-testid="sign-out"]').click();
    await signIn(keys.admin);
    await online(page);
    await role().filter({ hasText: 'admin' }).waitFor({ timeout: T });
    await nav(page, 'Configuration');
    const workers = page.getByLabel('Workers per node');
    await workers.waitFor({ timeout: T });
    assert(!(await workers.isDisabled()), 'an admin cannot edit the configuration');
    // And an admin may edit a node.
    await nav(page, 'Nodes');
    await page.locator(`[data-node-id="${nodeId}"]`).getByRole('button', { name: 'Edit' }).waitFor({ timeout: T });
    await nav(page, 'Configuration');
    await workers.waitFor({ timeout: T });
    assert((await page.locator('[data-testid="not-allowed"]').count()) === 0, 'an admin is told no');
    const before = Number(await page.locator('[data-testid="config-version-current"]').innerText());
    const old = await workers.inputValue();
    await workers.fill(String(Number(old) + 1));
    await page.getByRole('button', { name: 'Save 1 change' }).click();
    await page.locator('[data-testid="config-saved"]', { hasText: `Saved version ${before + 1}` }).waitFor({ timeout: T });
    await workers.fill(old);
    await page.getByRole('button', { name: 'Save 1 change' }).click();
    await page.locator('[data-testid="config-saved"]', { hasText: `Saved version ${before + 2}` }).waitFor({ timeout: T });
  });

  await scenario('schedules: an operator manages them, a viewer sees them without actions', async () => {
    const name = `vault-hourly-${Date.now().toString(36)}`;
    await page.locator('[data-testid="sign-out"]').click();
    await signIn(keys.operator);
    await online(page);
    await role().filter({ hasText: 'operator' }).waitFor({ timeout: T });
    await nav(page, 'Schedules');
    await page.getByRole('link', { name: '+ New schedule' }).click();
    const form = page.locator('[data-testid="schedule-form"]');
    await form.waitFor({ timeout: T });
    await form.locator('input[name="name"]').fill(name);
    await form.getByRole('radio', { name: 'Every interval' }).check();
    await form.locator('input[name="every"]').fill('1h');
    await form.locator('select[name="type"]').selectOption('echo');
    await form.getByRole('checkbox', { name: 'Create it paused' }).check();
    await form.getByRole('button', { name: 'Create schedule' }).click();
    const row = page.locator(`tr[data-schedule-name="${name}"][data-paused="true"]`);
    await row.waitFor({ timeout: T });
    for (const b of ['Resume', 'Run now', 'Delete']) await row.getByRole('button', { name: b, exact: true }).waitFor({ timeout: T });
    await row.getByRole('link', { name: 'Edit', exact: true }).waitFor({ timeout: T });
    // A viewer: the same list, live, without a button.
    await page.locator('[data-testid="sign-out"]').click();
    await signIn(keys.viewer);
    await online(page);
    await role().filter({ hasText: 'viewer' }).waitFor({ timeout: T });
    await nav(page, 'Schedules');
    const seen = page.locator(`tr[data-schedule-name="${name}"]`);
    await seen.waitFor({ timeout: T });
    await seen.locator('[data-testid="schedule-paused"]').waitFor({ timeout: T });
    assert((await page.getByRole('link', { name: '+ New schedule' }).count()) === 0, 'a viewer sees + New schedule');
    assert((await seen.getByRole('button').count()) === 0, 'a viewer sees schedule buttons');
    assert((await seen.getByRole('link', { name: 'Edit', exact: true }).count()) === 0, 'a viewer sees Edit');
    // Its row still leads to its tasks.
    assert(
      (await seen.locator('[data-testid="schedule-tasks-link"]').getAttribute('href')) === `/tasks?schedule=${encodeURIComponent(name)}`,
      'the row does not link to the schedule\'s tasks',
    );
    await page.goto(`${base}/schedules/new`);
    await page.locator('[data-testid="not-allowed"][data-action="createSchedule"]').waitFor({ timeout: T });
    assert((await page.locator('[data-testid="schedule-form"]').count()) === 0, 'a viewer sees the schedule form');
    // Back to the admin key for the scenarios that follow.
    await page.locator('[data-testid="sign-out"]').click();
    await signIn(keys.admin);
    await online(page);
    await role().filter({ hasText: 'admin' }).waitFor({ timeout: T });
  });

  await scenario('limits: a viewer sees the page without actions; an operator pauses types but does not set limits', async () => {
    const form = page.locator('[data-testid="limit-form"]');
    const pause = page.locator('tr[data-task-type="echo"]').getByRole('button', { name: 'Pause', exact: true });
    await page.locator('[data-testid="sign-out"]').click();
    await signIn(keys.viewer);
    await online(page);
    await role().filter({ hasText: 'viewer' }).waitFor({ timeout: T });
    await nav(page, 'Limits');
    await page.locator('[data-testid="not-allowed"][data-action="setLimit"]').waitFor({ timeout: T });
    await page.locator('[data-testid="not-allowed"][data-action="pauseTaskType"]').waitFor({ timeout: T });
    assert(await form.locator('button[type="submit"]').isDisabled(), 'a viewer can send the limit form');
    assert(await form.locator('input[name="maxConcurrent"]').isDisabled(), 'a viewer can type in the limit form');
    await pause.waitFor({ timeout: T });
    assert(await pause.isDisabled(), 'a viewer can pause a task type');
    await page.locator('[data-testid="sign-out"]').click();
    await signIn(keys.operator);
    await online(page);
    await role().filter({ hasText: 'operator' }).waitFor({ timeout: T });
    await nav(page, 'Limits');
    await page.locator('[data-testid="not-allowed"][data-action="setLimit"]').waitFor({ timeout: T });
    await pause.waitFor({ timeout: T });
    assert(!(await pause.isDisabled()), 'an operator cannot pause a task type');
    assert((await page.locator('[data-testid="not-allowed"][data-action="pauseTaskType"]').count()) === 0, 'an operator is told pausing needs another key');
    assert(await form.locator('button[type="submit"]').isDisabled(), 'an operator can send the limit form');
    // Back to the admin key for the scenarios that follow: the form is open.
    await page.locator('[data-testid="sign-out"]').click();
    await signIn(keys.admin);
    await online(page);
    await role().filter({ hasText: 'admin' }).waitFor({ timeout: T });
    await nav(page, 'Limits');
    await form.waitFor({ timeout: T });
    assert(!(await form.locator('button[type="submit"]').isDisabled()), 'an admin cannot send the limit form');
    assert((await page.locator('[data-testid="not-allowed"]').count()) === 0, 'an admin is told an action needs another key');
  });

  await scenario('the playground uses the key of the dashboard', async () => {
    // Same tab, so the same sessionStorage: signed in as admin above.
    await page.goto(`${base}/playground`);
    const hint = page.locator('#archivist-auth');
    await page.locator('#archivist-auth[data-state="signed-in"][data-role="ADMIN"]').waitFor({ timeout: T });
    const text = await hint.innerText();
    assert(text.includes('Signed in as admin') && text.includes('Authorization'), `hint: ${text}`);
    await graphiqlReady(page);
    // A query over HTTP: the Authorization header.
    await typeQuery(page, '{ session { role authenticated } nodes { id status } }');
    const res = await runInGraphiQL(page, '"nodes"');
    assert(res.includes('"role": "ADMIN"') && res.includes(nodeId), `query result: ${res.slice(0, 300)}`);
    // A subscription over the WebSocket: the key went in connection_init.
    await typeQuery(page, 'subscription Beats { nodeUpdated { id lastHeartbeat } }');
    const sub = await runInGraphiQL(page, '"nodeUpdated"');
    assert(sub.includes(nodeId), `subscription result: ${sub.slice(0, 300)}`);
    await page.locator('.graphiql-execute-button').click(); // stop it
    await typeQuery(page, '{ session { role authenticated } nodes { id name status workers activeTasks } }');
    // Prettify (its formatter is a chunk of its own, loaded from the node).
    await page.getByRole('button', { name: /^Prettify query/ }).click();
    await page.waitForFunction(() => document.querySelectorAll('.graphiql-query-editor .view-line').length > 3, null, { timeout: T });
    await runInGraphiQL(page, '"activeTasks"');
    await shot('19-playground', page);
    const st = await stored();
    assert(!JSON.stringify(st.local).includes(keys.admin), 'the playground put the key in localStorage');
    // Without a key (a new tab): the hint says how to sign in.
    const other = await newPage();
    await other.goto(`${base}/playground`);
    await other.locator('#archivist-auth[data-state="signed-out"]').waitFor({ timeout: T });
    const t2 = await other.locator('#archivist-auth').innerText();
    assert(t2.includes('Sign in on the dashboard') && t2.includes('Bearer KEY'), `hint without a key: ${t2}`);
    await other.context().close();
    await page.goto(`${base}/`);
    await online(page);
  });

  await scenario('a key the node no longer takes leads back to the sign-in screen', async () => {
    await page.goto(`${base}/nodes`);
    await online(page);
    await page.evaluate(() => (window.__e2eNoReload = true));
    // The node restarts with other keys: the WebSocket reconnects, is closed
    // with 4401, and the page says so.
    await ask('restart-other-keys');
    await signInScreen().waitFor({ timeout: 30000 });
    await page.locator('[data-testid="signin-message"]', { hasText: 'no longer accepts your key' }).waitFor({ timeout: T });
    assert(!('archivist.apiKey' in (await stored()).session), 'the refused key is still kept');
    assert(await page.evaluate(() => window.__e2eNoReload === true), 'the page reloaded');
  }, { needsDriver: true });

  if (insecureUrl) {
    await scenario('a node run with --insecure shows a loud banner', async () => {
      const p = await newPage();
      await p.goto(`${insecureUrl}/`);
      const banner = p.locator('[data-testid="insecure-banner"]');
      await banner.waitFor({ timeout: T });
      const text = await banner.innerText();
      assert(text.includes('INSECURE') && text.includes('--api-keys'), `banner: ${text}`);
      assert((await p.locator('[data-testid="session-role"]').count()) === 0, 'a node without keys shows a role');
      await p.locator('[data-testid="connection"][data-state="online"]').waitFor({ timeout: T });
      await shot('20-insecure', p);
      await p.context().close();
    });
  }
}

if (mode === 'cluster') {
  await clusterScenarios();
} else if (mode === 'auth') {
  await authScenarios();
} else {
  await singleNodeScenarios();
}

await scenario('no page errors and nothing loaded from elsewhere', async () => {
  assert(pageErrors.length === 0, `page errors: ${pageErrors.join('; ')}`);
  assert(foreign.length === 0, `requests to other sites: ${foreign.slice(0, 5).join(', ')}`);
});

await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
