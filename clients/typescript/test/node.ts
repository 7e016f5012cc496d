// A real archivist serve process for the tests, on a free loopback port,
// with its embedded store in a temporary file, so that it can be killed
// (SIGKILL) and started again on the same address and data.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { inject } from 'vitest';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export class TestNode {
  readonly url: string;
  private proc: ChildProcess | null = null;
  private log = '';

  private constructor(
    readonly addr: string,
    private readonly args: string[],
    private readonly env: Record<string, string> = {},
  ) {
    this.url = `http://${addr}/graphql`;
  }

  /** Starts a node; extra are more flags of archivist serve, env more environment. */
  static async start(extra: string[] = [], env: Record<string, string> = {}): Promise<TestNode> {
    const addr = `127.0.0.1:${await freePort()}`;
    const db = join(mkdtempSync(join(tmpdir(), 'archivist-ts-node-')), 'store.db');
    const node = new TestNode(addr, [
      'serve', '--http', addr, '--store', `bolt:${db}`, '--node-id', 'ts-node', '--log-level', 'warn',
      '--heartbeat-interval', '500ms', ...extra,
    ], env);
    await node.run();
    return node;
  }

  /** Starts the process and waits until /readyz answers 200 (at most 30 s). */
  async run(): Promise<void> {
    const proc = spawn(inject('archivistBin'), this.args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.env } });
    this.proc = proc;
    proc.stdout?.on('data', (b: Buffer) => (this.log += b.toString()));
    proc.stderr?.on('data', (b: Buffer) => (this.log += b.toString()));
    const exited = new Promise<never>((_, reject) =>
      proc.once('exit', (code, sig) => reject(new Error(`archivist exited (${code ?? sig}) before it was ready:\n${this.log}`))),
    );
    const ready = (async () => {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        try {
          const res = await fetch(`http://${this.addr}/readyz`);
          if (res.ok) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`archivist did not get ready in 30 s:\n${this.log}`);
    })();
    await Promise.race([ready, exited]);
    exited.catch(() => {});
  }

  /** SIGKILL, and waits for the process to be gone. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
    this.proc = null;
  }

  /** SIGTERM (a graceful stop), and waits for the process to be gone. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await gone;
    this.proc = null;
  }

  output(): string {
    return this.log;
  }
}

/**
 * Collects the values a watch hands over, and lets a test wait for one
 * that matches (resolved by the watch's own calls, not by polling).
 */
export class Recorder<T> {
  readonly values: T[] = [];
  resyncs = 0;
  errors: Error[] = [];
  private waiters: { match: (v: T) => boolean; resolve: (v: T) => void }[] = [];
  private resyncWaiters: (() => void)[] = [];

  readonly handlers = {
    onUpdate: (v: T) => {
      this.values.push(v);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(v)) return true;
        w.resolve(v);
        return false;
      });
    },
    onResync: () => {
      this.resyncs++;
      for (const r of this.resyncWaiters.splice(0)) r();
    },
    onError: (err: Error) => {
      this.errors.push(err);
    },
  };

  /** The first value (seen already, or to come) that matches, within timeoutMs. */
  next(match: (v: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
    const seen = this.values.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; saw ${JSON.stringify(this.values.slice(-5))}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
      });
    });
  }

  /** Resolves at the next resync (or at once when one happened since the count given). */
  resync(since: number, timeoutMs = 20_000): Promise<void> {
    if (this.resyncs > since) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a resync')), timeoutMs);
      this.resyncWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
