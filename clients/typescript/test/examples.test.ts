// The examples in examples/ run as the README says, against a real node.

import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { TestNode } from './node.js';

const pkgDir = resolve(import.meta.dirname, '..');
let node: TestNode;

beforeAll(async () => {
  // The examples import the package by its name: its built dist/.
  execFileSync('npm', ['run', 'build'], { cwd: pkgDir, stdio: 'ignore' });
  node = await TestNode.start();
}, 180_000);

afterAll(async () => {
  await node?.stop();
});

function example(name: string): string {
  try {
    return execFileSync(process.execPath, [resolve(pkgDir, 'examples', name)], {
      cwd: pkgDir,
      encoding: 'utf8',
      env: { ...process.env, ARCHIVIST_URL: node.url },
      timeout: 60_000,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

it('submit-and-wait prints the simulation', () => {
  const out = example('submit-and-wait.mjs');
  expect(out).toMatch(/4d6 keep the highest 3, 20000 rolls: mean 1[12]\.\d\d, from 3 to 18/);
});

it('watch-campaign follows its tasks to the end', () => {
  const out = example('watch-campaign.mjs');
  expect(out).toMatch(/all finished/);
  expect(out).toMatch(/dice\.simulate\s+COMPLETED/);
});
