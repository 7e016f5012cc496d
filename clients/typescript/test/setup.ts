// Finds (ARCHIVIST_BIN) or builds the archivist binary the tests run.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    archivistBin: string;
  }
}

export default function setup(project: TestProject): void {
  let bin = process.env.ARCHIVIST_BIN;
  if (bin) {
    if (!existsSync(bin)) throw new Error(`ARCHIVIST_BIN=${bin}: no such file`);
  } else {
    const root = resolve(import.meta.dirname, '..', '..', '..');
    bin = join(mkdtempSync(join(tmpdir(), 'archivist-ts-')), 'archivist');
    console.log(`building ${bin} (set ARCHIVIST_BIN to use a built one)`);
    execFileSync('go', ['build', '-o', bin, './cmd/archivist'], { cwd: root, stdio: 'inherit' });
  }
  project.provide('archivistBin', bin);
}
