// npm pack makes a package that installs and works: the tarball holds the
// built code and its types (and not the sources or tests), and a project
// that has it in node_modules imports it, type-checks against it and runs
// a task with it on a real node.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { TestNode } from './node.js';

/** Runs a command, with its output in the error when it fails. */
function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

const pkgDir = resolve(import.meta.dirname, '..');
let node: TestNode;

beforeAll(async () => {
  node = await TestNode.start();
});

afterAll(async () => {
  await node?.stop();
});

it('packs an installable package', { timeout: 180_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'archivist-ts-pack-'));
  const out = run('npm', ['pack', '--json', '--pack-destination', work], pkgDir);
  // npm prints the prepack build's output before the JSON.
  const info = JSON.parse(out.slice(out.indexOf('[\n'))) as { filename: string; files: { path: string }[] }[];
  const files = info[0]!.files.map((f) => f.path);
  expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/client.js']));
  expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('node_modules/'))).toEqual([]);

  // A project with the package installed from the tarball; its dependencies
  // are linked from this package's node_modules (no registry in a test).
  const project = join(work, 'project');
  const modules = join(project, 'node_modules');
  mkdirSync(join(modules, '@rpg-archivist'), { recursive: true });
  mkdirSync(join(modules, '@graphql-typed-document-node'), { recursive: true });
  execFileSync('tar', ['-xzf', join(work, info[0]!.filename), '-C', work]);
  renameSync(join(work, 'package'), join(modules, '@rpg-archivist', 'client'));
  for (const dep of ['graphql-ws', 'graphql', 'ws', '@types', '@graphql-typed-document-node/core']) {
    symlinkSync(join(pkgDir, 'node_modules', dep), join(modules, dep));
  }
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  writeFileSync(
    join(project, 'main.ts'),
    `import WebSocket from 'ws';
import { createClient, runTask, type Task, ArchivistError } from '@rpg-archivist/client';

const client = createClient({ url: process.argv[2]!, webSocketImpl: WebSocket });
const task: Task = await runTask(client, { type: 'echo', input: { from: 'the package' } });
const err = await runTask(client, { type: 'nope' }).catch((e: unknown) => e);
console.log(JSON.stringify({ status: task.status, result: task.result, code: err instanceof ArchivistError ? err.code : null }));
await client.close();
`,
  );
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out', types: ['node'] },
      files: ['main.ts'],
    }),
  );
  const tsc = join(pkgDir, 'node_modules', 'typescript', 'bin', 'tsc');
  run(process.execPath, [tsc, '-p', project], project);
  expect(readdirSync(join(project, 'out'))).toContain('main.js');
  const ran = run(process.execPath, [join(project, 'out', 'main.js'), node.url], project);
  expect(JSON.parse(ran)).toEqual({ status: 'COMPLETED', result: { from: 'the package' }, code: 'BAD_USER_INPUT' });
});
