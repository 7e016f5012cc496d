// Submits a dice simulation and waits for its result, showing progress.
//
//   archivist serve                      # a node on http://127.0.0.1:8080
//   npm run build && node examples/submit-and-wait.mjs
//
// ARCHIVIST_URL and ARCHIVIST_API_KEY point it elsewhere.

import WebSocket from 'ws';

import { ArchivistError, TaskFailedError, createClient, runTask } from '@rpg-archivist/client';

const client = createClient({
  url: process.env.ARCHIVIST_URL ?? 'http://127.0.0.1:8080/graphql',
  apiKey: process.env.ARCHIVIST_API_KEY,
  // Node.js 20 has no WebSocket of its own (22 does; browsers do).
  webSocketImpl: WebSocket,
});

try {
  const task = await runTask(
    client,
    { type: 'dice.simulate', input: { expr: '4d6kh3', trials: 20000 }, metadata: { campaign: 'curse-of-strahd' } },
    { onProgress: (t) => console.log(`${t.status} ${Math.round(t.progress * 100)}%`), timeoutMs: 60_000 },
  );
  const { mean, min, max } = task.result;
  console.log(`4d6 keep the highest 3, 20000 rolls: mean ${mean.toFixed(2)}, from ${min} to ${max}`);
} catch (err) {
  if (err instanceof TaskFailedError) console.error(`the task ended ${err.task.status}: ${err.task.error}`);
  else if (err instanceof ArchivistError) console.error(`${err.code}: ${err.message}`);
  else throw err;
  process.exitCode = 1;
} finally {
  await client.close();
}
