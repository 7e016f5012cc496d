// The rest of the API through the client: nodes, configuration, session,
// statistics, schedules, workflows, groups, limits and paused types.

import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  cancelWorkflow,
  createClient,
  createSchedule,
  deleteLimit,
  deleteSchedule,
  drainNode,
  getConfig,
  getLeader,
  getNode,
  getSchedule,
  getSession,
  getStats,
  getWorkflow,
  listAlerts,
  listGroups,
  listLimits,
  listNodes,
  listSchedules,
  listTaskTypeStates,
  listWorkflows,
  pauseSchedule,
  pauseTaskType,
  resumeNode,
  resumeSchedule,
  resumeTaskType,
  retryWorkflow,
  setLimit,
  submitTask,
  submitWorkflow,
  triggerSchedule,
  updateConfig,
  updateSchedule,
  waitForTask,
  watchWorkflow,
  type ArchivistClient,
  type ArchivistError,
  type Workflow,
} from '../src/index.js';
import { Recorder, TestNode } from './node.js';

let node: TestNode;
let client: ArchivistClient;
const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: ArchivistError) => e.code);

beforeAll(async () => {
  node = await TestNode.start();
  client = createClient({ url: node.url, webSocketImpl: WebSocket });
});

afterAll(async () => {
  await client?.close();
  await node?.stop();
});

describe('cluster', () => {
  it('reads and controls nodes', async () => {
    const nodes = await listNodes(client);
    expect(nodes.map((n) => n.id)).toContain('ts-node');
    const me = await getNode(client, 'ts-node');
    expect(me).toMatchObject({ id: 'ts-node', status: expect.stringMatching(/ONLINE|BUSY/), role: 'HYBRID' });
    expect(me?.health.cpuPercent).toBeTypeOf('number');
    expect((await getLeader(client))?.id).toBe('ts-node');
    expect(await getNode(client, 'nobody')).toBeNull();
    expect((await drainNode(client, 'ts-node')).status).toBe('DRAINING');
    expect((await resumeNode(client, 'ts-node')).status).not.toBe('DRAINING');
    expect(await code(drainNode(client, 'nobody'))).toBe('NOT_FOUND');
  });

  it('reads and changes the configuration', async () => {
    const before = await getConfig(client);
    const after = await updateConfig(client, { defaultMaxRetries: before.defaultMaxRetries + 1 });
    expect(after.defaultMaxRetries).toBe(before.defaultMaxRetries + 1);
    expect(after.version).toBeGreaterThan(before.version);
    expect(await code(updateConfig(client, { workers: -5 }))).toBe('BAD_USER_INPUT');
  });

  it('answers the session, statistics and alerts', async () => {
    expect(await getSession(client)).toMatchObject({ authRequired: false, role: 'ADMIN' });
    const task = await submitTask(client, { type: 'echo', input: 1 });
    await waitForTask(client, task.id);
    const stats = await getStats(client, { windowSeconds: 600 });
    expect(stats.windowSeconds).toBe(600);
    expect(stats.total.submitted).toBeGreaterThan(0);
    expect(Array.isArray(await listAlerts(client, true))).toBe(true);
  });
});

describe('schedules', () => {
  it('creates, changes, triggers and deletes a schedule', async () => {
    const name = `nightly-index-${Date.now()}`;
    const made = await createSchedule(client, { name, every: '1h', task: { type: 'echo', input: { what: 'index' } } });
    expect(made).toMatchObject({ name, every: '1h0m0s', paused: false });
    expect(made.nextRunAt).not.toBeNull();
    expect((await listSchedules(client)).map((s) => s.name)).toContain(name);
    expect(await code(createSchedule(client, { name: `bad-${Date.now()}`, cron: 'every tuesday', task: { type: 'echo' } }))).toBe(
      'BAD_USER_INPUT',
    );

    expect((await pauseSchedule(client, name)).paused).toBe(true);
    expect((await resumeSchedule(client, name)).paused).toBe(false);
    const changed = await updateSchedule(client, { name, cron: '0 3 * * *', task: { type: 'echo', input: { what: 'reindex' } } });
    expect(changed.cron).toBe('0 3 * * *');
    const fired = await triggerSchedule(client, name);
    expect(fired.schedule).toBe(name);
    expect((await waitForTask(client, fired.id)).result).toEqual({ what: 'reindex' });
    expect(await deleteSchedule(client, name)).toBe(true);
    expect(await getSchedule(client, name)).toBeNull();
  });
});

describe('workflows', () => {
  it('submits a workflow, watches it complete and reads its steps', async () => {
    const wf = await submitWorkflow(client, {
      name: 'session-12',
      steps: [
        { key: 'notes', type: 'echo', input: { text: 'the party met Strahd' } },
        { key: 'summary', type: 'echo', dependsOn: ['notes'], input: { $ref: 'notes.result.text' } },
      ],
    });
    expect(wf.steps.map((s) => s.key).sort()).toEqual(['notes', 'summary']);
    const rec = new Recorder<Workflow>();
    const stop = watchWorkflow(client, wf.id, rec.handlers);
    await rec.next((w) => w.status === 'COMPLETED', 'the workflow completed');
    stop();
    const read = await getWorkflow(client, wf.id);
    expect(read?.steps.find((s) => s.key === 'summary')?.task?.result).toBe('the party met Strahd');
    expect((await listWorkflows(client, { first: 10 })).items.map((w) => w.id)).toContain(wf.id);

    expect(
      await code(
        submitWorkflow(client, {
          name: 'loop',
          steps: [
            { key: 'a', type: 'echo', dependsOn: ['b'] },
            { key: 'b', type: 'echo', dependsOn: ['a'] },
          ],
        }),
      ),
    ).toBe('BAD_USER_INPUT');
  });

  it('cancels and retries a workflow', async () => {
    const wf = await submitWorkflow(client, { name: 'long', steps: [{ key: 'wait', type: 'sleep', input: { ms: 60_000 } }] });
    expect((await cancelWorkflow(client, wf.id)).status).toBe('CANCELLED');
    const again = await retryWorkflow(client, wf.id);
    expect(again.status).toBe('RUNNING');
    await cancelWorkflow(client, wf.id);
  });
});

describe('flow control', () => {
  it('lists groups, sets limits and pauses task types', async () => {
    const group = `campaign-${Date.now()}`;
    const t = await submitTask(client, { type: 'echo', input: 1, group });
    await waitForTask(client, t.id);
    const groups = await listGroups(client, 500);
    expect(groups.find((g) => g.group === group)).toMatchObject({ total: 1, unfinished: 0 });

    const limit = await setLimit(client, { group, maxConcurrent: 2 });
    expect(limit).toMatchObject({ group, maxConcurrent: 2 });
    expect((await listLimits(client)).map((l) => l.id)).toContain(limit.id);
    expect(await code(setLimit(client, { group, maxConcurrent: -1 }))).toBe('BAD_USER_INPUT');
    expect(await deleteLimit(client, limit.id)).toBe(true);

    expect(await pauseTaskType(client, 'dice.simulate')).toBe(true);
    expect((await listTaskTypeStates(client)).find((s) => s.type === 'dice.simulate')?.paused).toBe(true);
    const held = await submitTask(client, { type: 'dice.simulate', input: { expr: '1d20', trials: 10 } });
    expect(await resumeTaskType(client, 'dice.simulate')).toBe(true);
    expect((await waitForTask(client, held.id)).status).toBe('COMPLETED');
  });
});
