// Browser test of the dashboard while the node's store (Redis) is down, in
// Debian's Chromium driven by playwright-core. cmd/archivist's
// TestDashboardStoreUnreachable starts two nodes on a Redis of its own and
// runs this script, answering its ASK lines: it stops Redis, then starts it
// again on the same port.
//
// Environment:
//   ARCHIVIST_URL          the node, e.g. http://127.0.0.1:8080 (required)
//   ARCHIVIST_SCREENSHOTS  where to save screenshots (default: none saved)
//   CHROMIUM               the browser (default /usr/bin/chromium)
//   NODE_COUNT             how many nodes the cluster has
//
// Output as dashboard.e2e.mjs: "PASS name", "FAIL name: reason", "ASK
// action" (answered with one line on stdin), then "N passed, N failed".

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { chromium } from 'playwright-core';

const base = (process.env.ARCHIVIST_URL ?? '').replace(/\/+$/, '');
if (!base) {
  console.error('ARCHIVIST_URL is not set (e.g. http://127.0.0.1:8080)');
  process.exit(2);
}
const shotsDir = process.env.ARCHIVIST_SCREENSHOTS || '';
const nodeCount = Number(process.env.NODE_COUNT || 2);
const T = 30000;
if (shotsDir) mkdirSync(shotsDir, { recursive: true });

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function ask(action) {
  console.log(`ASK ${action}`);
  const { value, done } = await lines.next();
  if (done) throw new Error(`driver closed stdin during ${action}`);
  if (value.startsWith('ERROR')) throw new Error(`driver: ${value}`);
  return value.trim();
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

let passed = 0;
let failed = 0;

async function scenario(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed++;
    console.log(`PASS ${name} (${Date.now() - started} ms)`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}: ${String(err?.message ?? err).split('\n').slice(0, 6).join(' | ')}`);
    await shot(`failure-${name.replace(/\W+/g, '-')}`).catch(() => {});
  }
}

async function shot(name) {
  if (!shotsDir) return;
  await page.screenshot({ path: join(shotsDir, `${name}.png`) });
  console.log(`SHOT ${join(shotsDir, `${name}.png`)}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
});
const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: 'light' });
const page = await ctx.newPage();
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(e.message));

const cards = () => page.locator('[data-node-id]');
const offlineCards = () => page.locator('[data-node-id][data-status="OFFLINE"]');
const banner = () => page.locator('[data-testid="store-banner"]');

/** Fails if any node card shows OFFLINE during the next ms milliseconds. */
async function noneOfflineFor(ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const n = await offlineCards().count();
    assert(n === 0, `${n} node(s) shown OFFLINE`);
    await page.waitForTimeout(200);
  }
}

await scenario('the nodes show online', async () => {
  await page.goto(`${base}/nodes`);
  await page.waitForFunction(
    (want) => document.querySelectorAll('[data-node-id][data-status="ONLINE"]').length === want,
    nodeCount,
    { timeout: T },
  );
  await page.locator('[data-testid="connection"][data-state="online"]').waitFor({ timeout: T });
  assert((await banner().count()) === 0, 'the store banner shows while the store answers');
});

let storeName = '';
await scenario('with Redis down, a banner names the store and no node turns OFFLINE', async () => {
  storeName = await ask('redis-kill'); // "the Redis store at 127.0.0.1:PORT"
  // Until the banner shows, no node may look offline either.
  for (const until = Date.now() + T; (await banner().count()) === 0; await page.waitForTimeout(100)) {
    assert(Date.now() < until, 'no store banner');
    const n = await offlineCards().count();
    assert(n === 0, `${n} node(s) shown OFFLINE before the banner showed`);
  }
  const text = await banner().innerText();
  assert(text.toLowerCase().includes(storeName.toLowerCase()), `banner: ${text}, want it to name ${storeName}`);
  assert(text.includes('cannot be reached') && text.includes('stale'), `banner: ${text}`);
  assert(!/xxxxx|:\/\/[^@\s]*:[^@\s]*@/.test(text), `banner shows credentials: ${text}`);
  // Heartbeats stopped reaching the store: that says nothing of the nodes.
  assert((await cards().count()) === nodeCount, `${await cards().count()} node cards, want ${nodeCount}`);
  await noneOfflineFor(4000);
  // The connection to the node itself is fine.
  await page.locator('[data-testid="connection"][data-state="online"]').waitFor({ timeout: T });
  await shot('23-store-unreachable');
});

await scenario('with Redis back, the banner goes away and the nodes are online', async () => {
  await ask('redis-restart');
  await banner().waitFor({ state: 'detached', timeout: T });
  await page.waitForFunction(
    (want) => document.querySelectorAll('[data-node-id][data-status="ONLINE"]').length === want,
    nodeCount,
    { timeout: T },
  );
  await noneOfflineFor(3000);
});

await scenario('no page errors', async () => {
  assert(pageErrors.length === 0, `page errors: ${pageErrors.join('; ')}`);
});

await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
