// Follows a campaign's tasks live while it submits a few, then stops when
// they are all finished.
//
//   archivist serve                      # a node on http://127.0.0.1:8080
//   npm run build && node examples/watch-campaign.mjs
//
// ARCHIVIST_URL and ARCHIVIST_API_KEY point it elsewhere.

import WebSocket from 'ws';

import { createClient, isFinished, listTasks, submitTasks, watchTasks } from '@rpg-archivist/client';

const client = createClient({
  url: process.env.ARCHIVIST_URL ?? 'http://127.0.0.1:8080/graphql',
  apiKey: process.env.ARCHIVIST_API_KEY,
  webSocketImpl: WebSocket,
});
const group = `campaign-${Date.now()}`;

// The submitted tasks not seen finished yet (filled once submitTasks answers:
// updates may come before that, so the finished ones are remembered too).
const pending = new Set();
const finished = new Set();
let submitted = false;
let resolveDone;
const done = new Promise((resolve) => (resolveDone = resolve));
// Prints each state of a task once, whether the watch or a read saw it.
const printed = new Set();
const settle = (task) => {
  const line = `${task.id.slice(-6)} ${task.type.padEnd(14)} ${task.status}`;
  if (!printed.has(`${task.id} ${task.status} ${task.progress}`)) console.log(line);
  printed.add(`${task.id} ${task.status} ${task.progress}`);
  if (isFinished(task)) {
    finished.add(task.id);
    pending.delete(task.id);
  }
  if (submitted && pending.size === 0) resolveDone();
};

const stop = watchTasks(client, { group }, {
  onUpdate: settle,
  // Events may have been missed (a reconnection): read the campaign's tasks again.
  onResync: async () => {
    for (const task of (await listTasks(client, { filter: { group }, first: 500 })).items) settle(task);
  },
  onError: (err) => {
    console.error(`${err.code}: ${err.message}`);
    resolveDone();
  },
});

// Submit once the node has opened the watch: it sees every change after.
await client.opened();
const tasks = await submitTasks(client, [
  { type: 'echo', input: { note: 'the party reached Vallaki' }, group },
  { type: 'sleep', input: { ms: 800 }, group },
  { type: 'dice.simulate', input: { expr: '1d20+5', trials: 1000 }, group },
]);
for (const t of tasks) if (!finished.has(t.id)) pending.add(t.id);
submitted = true;
if (pending.size === 0) resolveDone();

let timer;
await Promise.race([done, new Promise((r) => (timer = setTimeout(r, 30_000)))]);
clearTimeout(timer);
stop();
await client.close();
console.log(pending.size === 0 ? 'all finished' : `${pending.size} still unfinished after 30 s`);
process.exitCode = pending.size === 0 ? 0 : 1;
