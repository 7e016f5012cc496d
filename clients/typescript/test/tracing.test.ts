// The app's trace over HTTP and over the WebSocket: on a node that traces,
// a submission made with the client's traceparent keeps that trace.

import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { SubmitTaskDocument, createClient, submitTask, type ArchivistClient } from '../src/index.js';
import { TestNode } from './node.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
let node: TestNode;
let client: ArchivistClient;

beforeAll(async () => {
  // Tracing on, with spans sent nowhere that answers: the node keeps the
  // trace with its tasks all the same.
  node = await TestNode.start([], { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' });
  client = createClient({ url: node.url, webSocketImpl: WebSocket, traceparent: () => `00-${TRACE}-00f067aa0ba902b7-01` });
});

afterAll(async () => {
  await client?.close();
  await node?.stop();
});

it('sends the traceparent over HTTP', async () => {
  expect((await submitTask(client, { type: 'echo' })).traceId).toBe(TRACE);
});

it('sends the traceparent over the WebSocket', async () => {
  const task = await new Promise<{ traceId: string | null }>((resolve, reject) => {
    client.subscribe(SubmitTaskDocument, { input: { type: 'echo' } }, { next: (d) => resolve(d.submitTask), error: reject });
  });
  expect(task.traceId).toBe(TRACE);
});
