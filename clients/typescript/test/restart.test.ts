// A node restart in the middle of subscriptions: the client reconnects by
// itself, its watches resynchronise (a change made while the client was
// away shows), and a waitForTask started before the restart resolves after
// it.

import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';

import {
  cancelTask,
  createClient,
  submitTask,
  waitForTask,
  watchTask,
  watchTasks,
  type ArchivistClient,
  type ConnectionState,
  type Task,
} from '../src/index.js';
import { Recorder, TestNode } from './node.js';

let node: TestNode;
let client: ArchivistClient;
let admin: ArchivistClient;

beforeAll(async () => {
  node = await TestNode.start();
  // Reconnections 3 to 3.9 s after a loss: the test changes a task in
  // that window, which the watches can only learn by reading it again.
  client = createClient({ url: node.url, webSocketImpl: WebSocket, reconnect: { baseMs: 3000, maxMs: 3000 } });
  admin = createClient({ url: node.url });
});

afterAll(async () => {
  await client?.close();
  await admin?.close();
  await node?.stop();
});

it('resynchronises watches after the node is killed and started again', async () => {
  const group = `restart-${Date.now()}`;
  const later = await submitTask(client, { type: 'echo', input: 'later', delaySeconds: 3600, group });
  expect(later.status).toBe('SCHEDULED');

  const one = new Recorder<Task>();
  const stopOne = watchTask(client, later.id, one.handlers);
  const list = new Recorder<Task>();
  const stopList = watchTasks(client, { group }, list.handlers);
  await one.next((t) => t.status === 'SCHEDULED', 'the first read');
  await client.opened();
  const probe = await submitTask(client, { type: 'echo', input: 'probe', group });
  await list.next((t) => t.id === probe.id, 'a task submitted after opened()');

  // A task due in a moment, waited for across the restart.
  const soon = await submitTask(client, { type: 'echo', input: { across: 'restart' }, delaySeconds: 2, group });
  const waiting = waitForTask(client, soon.id, { timeoutMs: 45_000 });

  const resyncsBefore = one.resyncs;
  const listResyncsBefore = list.resyncs;
  const states: ConnectionState[] = [];
  const offConn = client.onConnectionChange((s) => states.push(s));
  expect(client.connection()).toMatchObject({ phase: 'online', everConnected: true, attempt: 0 });
  await node.kill();
  await node.run();
  // The node is back; the client is not yet (it waits 3 s). A change now
  // reaches the watches only through their resync.
  const cancelled = await cancelTask(admin, later.id);
  expect(cancelled.status).toBe('CANCELLED');

  await one.resync(resyncsBefore);
  await list.resync(listResyncsBefore);
  // What a screen shows of the connection: lost, a retry planned, back.
  expect(states.find((s) => s.phase === 'offline')?.reason).toMatch(/^closed/);
  expect(states.some((s) => s.phase === 'offline' && s.attempt >= 1 && s.nextRetryAt !== null)).toBe(true);
  expect(client.connection()).toMatchObject({ phase: 'online', attempt: 0, nextRetryAt: null, reason: null });
  offConn();
  const seen = await one.next((t) => t.status === 'CANCELLED', 'the cancellation made while the client was away');
  expect(seen.id).toBe(later.id);
  expect(one.values.at(-1)?.status).toBe('CANCELLED');

  const done = await waiting;
  expect(done.status).toBe('COMPLETED');
  expect(done.result).toEqual({ across: 'restart' });

  // The list watch is live again: it gets the events of a new task.
  const after = await submitTask(client, { type: 'echo', input: 'after', group });
  await list.next((t) => t.id === after.id && t.status === 'COMPLETED', 'a task after the restart through the list watch');
  stopOne();
  stopList();
});

it('goes on after a graceful restart (the node ends its subscriptions)', async () => {
  const group = `graceful-${Date.now()}`;
  const list = new Recorder<Task>();
  const stop = watchTasks(client, { group }, list.handlers);
  await client.opened();
  const first = await submitTask(client, { type: 'echo', input: 1, group });
  await list.next((t) => t.id === first.id, 'a task submitted after opened()');
  const before = list.resyncs;
  await node.stop();
  await node.run();
  await list.resync(before);
  const second = await submitTask(client, { type: 'echo', input: 2, group });
  await list.next((t) => t.id === second.id && t.status === 'COMPLETED', 'a task after the restart');
  expect(list.errors).toEqual([]);
  stop();
});
