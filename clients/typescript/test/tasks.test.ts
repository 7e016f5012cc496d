// Tasks through the client, against a real node: submit, wait with
// progress, list with paging and filters, control, watch, and the errors a
// caller gets (typed, with the API's code).

import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  ArchivistError,
  TaskFailedError,
  TaskDocument,
  cancelTask,
  cancelTasks,
  countTasks,
  createClient,
  deleteTasks,
  getTask,
  isErrorCode,
  iterateTasks,
  listTasks,
  retryTask,
  runTask,
  submitTask,
  submitTasks,
  taskTypes,
  waitForTask,
  watchTask,
  watchTasks,
  type ArchivistClient,
  type Task,
} from '../src/index.js';
import { Recorder, TestNode } from './node.js';

let node: TestNode;
let client: ArchivistClient;

beforeAll(async () => {
  node = await TestNode.start();
  client = createClient({ url: node.url, webSocketImpl: WebSocket });
});

afterAll(async () => {
  await client?.close();
  await node?.stop();
});

describe('tasks', () => {
  it('opened() with no subscription going resolves without opening a WebSocket', async () => {
    const idle = createClient({ url: node.url, webSocketImpl: WebSocket });
    await idle.opened();
    expect(idle.connection().phase).toBe('idle');
    await idle.close();
    await expect(idle.opened()).rejects.toThrow(/closed/);
  });

  it('submits a task and waits for its result', async () => {
    const task = await submitTask(client, { type: 'echo', input: { campaign: 'Curse of Strahd', session: 12 } });
    expect(task.status).toBe('PENDING');
    expect(task.type).toBe('echo');
    const done = await waitForTask(client, task.id, { timeoutMs: 20_000 });
    expect(done.status).toBe('COMPLETED');
    expect(done.result).toEqual({ campaign: 'Curse of Strahd', session: 12 });
    expect(done.completedAt).not.toBeNull();
  });

  it('reports progress while waiting', async () => {
    const seen: Task[] = [];
    const done = await runTask(client, { type: 'sleep', input: { ms: 1500 } }, { onProgress: (t) => seen.push(t), timeoutMs: 20_000 });
    expect(done.status).toBe('COMPLETED');
    expect(done.result).toEqual({ sleptMs: 1500 });
    expect(seen.some((t) => t.status === 'IN_PROGRESS')).toBe(true);
    const progress = seen.map((t) => t.progress).filter((p) => p > 0 && p < 1);
    expect(progress.length).toBeGreaterThan(0);
    expect(seen.some((t) => t.progressMessage?.startsWith('slept'))).toBe(true);
  });

  it('rejects a failed task with TaskFailedError, or resolves it when asked', async () => {
    const err = await runTask(client, { type: 'fail', input: { times: 5 }, maxRetries: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskFailedError);
    expect((err as TaskFailedError).task.status).toBe('FAILED');
    expect((err as TaskFailedError).task.error).toBeTruthy();

    const failed = await runTask(client, { type: 'fail', input: { times: 5 }, maxRetries: 0 }, { resolveOnFailure: true });
    expect(failed.status).toBe('FAILED');
  });

  it('stops waiting on abort and on timeout, leaving the task alone', async () => {
    const task = await submitTask(client, { type: 'sleep', input: { ms: 60_000 } });
    const ac = new AbortController();
    const waiting = waitForTask(client, task.id, { signal: ac.signal });
    ac.abort(new Error('enough'));
    await expect(waiting).rejects.toThrow('enough');
    await expect(waitForTask(client, task.id, { timeoutMs: 200 })).rejects.toMatchObject({ name: 'TimeoutError' });
    const cancelled = await cancelTask(client, task.id);
    expect(['CANCELLED', 'IN_PROGRESS', 'ASSIGNED', 'PENDING']).toContain(cancelled.status);
    const end = await waitForTask(client, task.id, { resolveOnFailure: true, timeoutMs: 20_000 });
    expect(end.status).toBe('CANCELLED');
  });

  it('lists with paging and filters, and iterates every page', async () => {
    const group = `paging-${Date.now()}`;
    const made = await submitTasks(
      client,
      Array.from({ length: 7 }, (_, i) => ({ type: 'echo', input: { i }, group })),
    );
    expect(made).toHaveLength(7);
    await Promise.all(made.map((t) => waitForTask(client, t.id, { timeoutMs: 20_000 })));

    const first = await listTasks(client, { filter: { group }, first: 3 });
    expect(first.totalCount).toBe(7);
    expect(first.items).toHaveLength(3);
    expect(first.hasNextPage).toBe(true);
    const second = await listTasks(client, { filter: { group }, first: 3, after: first.endCursor });
    expect(second.items).toHaveLength(3);
    expect(second.items.map((t) => t.id)).not.toContain(first.items[0]!.id);

    const all: string[] = [];
    for await (const t of iterateTasks(client, { filter: { group }, pageSize: 2 })) all.push(t.id);
    expect(all.sort()).toEqual(made.map((t) => t.id).sort());

    const counts = await countTasks(client, group);
    expect(counts.find((c) => c.status === 'COMPLETED')?.count).toBe(7);
    expect(await deleteTasks(client, { group })).toBe(7);
    expect((await listTasks(client, { filter: { group }, first: 0 })).totalCount).toBe(0);
  });

  it('cancels, retries and reads tasks', async () => {
    const group = `control-${Date.now()}`;
    const slow = await submitTasks(client, [
      { type: 'sleep', input: { ms: 60_000 }, group },
      { type: 'sleep', input: { ms: 60_000 }, group },
    ]);
    expect(await cancelTasks(client, { group })).toBe(2);
    for (const t of slow) expect((await waitForTask(client, t.id, { resolveOnFailure: true })).status).toBe('CANCELLED');

    const retried = await retryTask(client, slow[0]!.id);
    expect(['PENDING', 'ASSIGNED', 'IN_PROGRESS']).toContain(retried.status);
    await cancelTask(client, retried.id);

    const read = await getTask(client, slow[1]!.id);
    expect(read?.id).toBe(slow[1]!.id);
    expect(await getTask(client, 'no-such-task')).toBeNull();
    expect(await taskTypes(client)).toEqual(expect.arrayContaining(['echo', 'sleep', 'fail', 'dice.simulate']));
    // A request of one's own with a generated document.
    const own = await client.request(TaskDocument, { id: slow[1]!.id });
    expect(own.task?.status).toBe('CANCELLED');
  });

  it('watches the tasks of a filter and one task', async () => {
    const group = `watch-${Date.now()}`;
    const all = new Recorder<Task>();
    const stopAll = watchTasks(client, { group }, all.handlers);
    // Once opened() resolves, the watch gets every change: the very next
    // task's creation included.
    await client.opened();
    expect(client.connection().phase).toBe('online');
    const probe = await submitTask(client, { type: 'echo', input: 'probe', group });
    await all.next((t) => t.id === probe.id && t.status === 'PENDING', "the first task's creation, right after opened()");

    const task = await submitTask(client, { type: 'sleep', input: { ms: 300 }, group });
    const one = new Recorder<Task>();
    const stopOne = watchTask(client, task.id, one.handlers);
    await one.next((t) => t.status === 'COMPLETED', 'the task completed (watchTask)');
    await all.next((t) => t.id === task.id && t.status === 'COMPLETED', 'the task completed (watchTasks)');
    const statuses = all.values.filter((t) => t.id === task.id).map((t) => t.status);
    // One node that leads with free workers starts a task in the placement
    // step: no ASSIGNED in between.
    expect(statuses).toEqual(expect.arrayContaining(['PENDING', 'IN_PROGRESS', 'COMPLETED']));
    expect(statuses.indexOf('PENDING')).toBeLessThan(statuses.indexOf('IN_PROGRESS'));
    expect(statuses.indexOf('IN_PROGRESS')).toBeLessThan(statuses.indexOf('COMPLETED'));
    expect(all.values.every((t) => t.group === group)).toBe(true);
    stopOne();
    stopAll();
  });
});

describe('errors', () => {
  it('carries the API code for bad input', async () => {
    const err = await submitTask(client, { type: 'no.such.type' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArchivistError);
    expect((err as ArchivistError).code).toBe('BAD_USER_INPUT');
    expect((err as ArchivistError).message).toMatch(/no\.such\.type/);
    expect(isErrorCode(err, 'BAD_USER_INPUT')).toBe(true);

    const bad = await submitTask(client, { type: 'sleep', input: { ms: 'soon' } }).catch((e: unknown) => e);
    expect(isErrorCode(bad, 'BAD_USER_INPUT')).toBe(true);
  });

  it('carries NOT_FOUND and CONFLICT', async () => {
    expect(await cancelTask(client, 'no-such-task').catch((e: ArchivistError) => e.code)).toBe('NOT_FOUND');
    const done = await runTask(client, { type: 'echo', input: 1 });
    expect(await cancelTask(client, done.id).catch((e: ArchivistError) => e.code)).toBe('CONFLICT');
  });

  it('ends a watch of a task that does not exist with NOT_FOUND', async () => {
    const rec = new Recorder<Task>();
    const gotError = new Promise<Error>((resolve) => {
      const stop = watchTask(client, 'no-such-task', { ...rec.handlers, onError: (e) => (stop(), resolve(e)) });
    });
    expect(await gotError).toMatchObject({ code: 'NOT_FOUND' });
    await expect(waitForTask(client, 'no-such-task')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('says NETWORK_ERROR when nothing answers', async () => {
    const dead = createClient({ url: 'http://127.0.0.1:1/graphql' });
    const err = await getTask(dead, 'x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArchivistError);
    expect((err as ArchivistError).code).toBe('NETWORK_ERROR');
    await dead.close();
  });

  it('refuses a bad URL at once', () => {
    expect(() => createClient({ url: '/graphql' })).toThrow(/absolute http/);
    expect(() => createClient({ url: 'localhost:8080' })).toThrow(/http:\/\/ or https:\/\//);
    expect(() => createClient({ url: 'ftp://node/graphql' })).toThrow(/http:\/\/ or https:\/\//);
  });
});

describe('requests', () => {
  it('sends the headers of a function, asked at each request', async () => {
    const seen: (string | null)[] = [];
    let n = 0;
    const traced = createClient({
      url: node.url,
      headers: () => ({ traceparent: `00-4bf92f3577b34da6a3ce929d0e0e473${n++}-00f067aa0ba902b7-01` }),
      fetch: async (input, init) => {
        seen.push(new Headers(init?.headers).get('traceparent'));
        return fetch(input, init);
      },
    });
    await taskTypes(traced);
    await taskTypes(traced);
    expect(seen).toEqual([
      '00-4bf92f3577b34da6a3ce929d0e0e4730-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4731-00f067aa0ba902b7-01',
    ]);
    await traced.close();
  });
});
