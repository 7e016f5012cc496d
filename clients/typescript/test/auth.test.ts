// API keys: the key over HTTP and in connection_init, the codes of a
// missing key, a refused one and a role too low, and a watch with a
// refused key that ends (instead of reconnecting for ever).

import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';

import {
  createClient,
  getSession,
  getTask,
  submitTask,
  updateConfig,
  waitForTask,
  watchTasks,
  type ArchivistClient,
  type ArchivistError,
  type ConnectionState,
  type Task,
} from '../src/index.js';
import { Recorder, TestNode } from './node.js';

const OPERATOR = 'operator-key-0123456789abcdef';
const VIEWER = 'viewer-key-0123456789abcdef';

let node: TestNode;
const clients: ArchivistClient[] = [];
const make = (apiKey?: string | (() => string)) => {
  const c = createClient({ url: node.url, apiKey, webSocketImpl: WebSocket });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  node = await TestNode.start(['--api-keys', `operator:${OPERATOR},viewer:${VIEWER}`]);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await node?.stop();
});

it('sends the key and gets the codes of the roles', async () => {
  const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: ArchivistError) => e.code);

  const anonymous = make();
  expect(await getSession(anonymous)).toMatchObject({ authRequired: true, authenticated: false, role: null });
  expect(await code(getTask(anonymous, 'x'))).toBe('UNAUTHENTICATED');
  expect(await code(getTask(make('wrong-key-0123456789abcdef'), 'x'))).toBe('UNAUTHENTICATED');

  const viewer = make(VIEWER);
  expect(await getSession(viewer)).toMatchObject({ authenticated: true, role: 'VIEWER' });
  expect(await code(submitTask(viewer, { type: 'echo' }))).toBe('FORBIDDEN');

  // A function is asked for the key at each request.
  let key = VIEWER;
  const rotating = make(() => key);
  expect(await code(submitTask(rotating, { type: 'echo' }))).toBe('FORBIDDEN');
  key = OPERATOR;
  const task = await submitTask(rotating, { type: 'echo', input: 'hello' });
  expect((await waitForTask(rotating, task.id)).result).toBe('hello');
  expect(await code(updateConfig(rotating, { workers: 3 }))).toBe('FORBIDDEN');
});

it('subscribes with the key in connection_init, and ends a watch whose key is refused', async () => {
  const viewer = make(VIEWER);
  const operator = make(OPERATOR);
  const group = `auth-${Date.now()}`;
  const rec = new Recorder<Task>();
  const stop = watchTasks(viewer, { group }, rec.handlers);
  // Open (the node answered the query sent after it over the socket, with
  // the viewer's key): the first change after it reaches the watch.
  await viewer.opened();
  const first = await submitTask(operator, { type: 'echo', input: 1, group });
  await rec.next((t) => t.id === first.id, 'the first task after opened()');
  stop();

  const refused = make('wrong-key-0123456789abcdef');
  const err = await new Promise<ArchivistError>((resolve) => {
    watchTasks(refused, null, { onUpdate: () => {}, onError: resolve });
  });
  expect(err.code).toBe('UNAUTHENTICATED');
  expect(err.message).toMatch(/4401/);
});

it('keeps a non-lazy socket open, and says when the node refuses its key', async () => {
  const ok = make(VIEWER);
  const okConn = createClient({ url: node.url, apiKey: VIEWER, webSocketImpl: WebSocket, lazy: false });
  clients.push(okConn);
  await new Promise<void>((resolve) => {
    if (okConn.connection().phase === 'online') return resolve();
    const off = okConn.onConnectionChange((s) => s.phase === 'online' && (off(), resolve()));
  });
  expect(ok.connection().phase).toBe('idle'); // lazy: no subscription, no socket

  const refused = createClient({ url: node.url, apiKey: 'wrong-key-0123456789abcdef', webSocketImpl: WebSocket, lazy: false });
  clients.push(refused);
  const state = await new Promise<ConnectionState>((resolve) => {
    const off = refused.onConnectionChange((s) => s.phase === 'offline' && (off(), resolve(s)));
  });
  expect(state.closeCode).toBe(4401);
  expect(state.reason).toMatch(/4401/);
});
