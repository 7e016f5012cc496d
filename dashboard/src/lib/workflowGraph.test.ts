import { describe, expect, it } from 'vitest';

import { DEFAULT_SIZES, layoutWorkflow, stepLayers } from './workflowGraph';

const step = (key: string, ...dependsOn: string[]) => ({ key, dependsOn });

describe('stepLayers', () => {
  it('puts a step one layer after the furthest of the steps it depends on', () => {
    // a → b → c, and a → c directly: c is on layer 2 (the longest path), not 1.
    const l = stepLayers([step('c', 'a', 'b'), step('b', 'a'), step('a'), step('x')]);
    expect(Object.fromEntries(l)).toEqual({ a: 0, x: 0, b: 1, c: 2 });
  });

  it('ignores unknown dependencies and still places steps caught in a cycle', () => {
    const l = stepLayers([step('a', 'ghost'), step('b', 'c'), step('c', 'b'), step('d', 'a')]);
    expect(l.get('a')).toBe(0);
    expect(l.get('d')).toBe(1);
    expect(l.get('b')).toBe(2);
    expect(l.get('c')).toBe(2);
  });
});

describe('layoutWorkflow', () => {
  it('places layers left to right with an edge per dependency', () => {
    const g = layoutWorkflow([step('fetch'), step('parse', 'fetch'), step('index', 'parse'), step('thumb', 'fetch'), step('done', 'index', 'thumb')]);
    expect(g.layers).toBe(4);
    const x = (k: string) => g.byKey.get(k)!.x;
    expect(x('fetch')).toBeLessThan(x('parse'));
    expect(x('parse')).toBe(x('thumb'));
    expect(x('index')).toBeLessThan(x('done'));
    expect(g.edges.map((e) => `${e.from}>${e.to}`).sort()).toEqual(['fetch>parse', 'fetch>thumb', 'index>done', 'parse>index', 'thumb>done']);
    for (const e of g.edges) expect(e.path).toMatch(/^M[\d.]+,[\d.]+ C/);
    // Everything is inside the canvas.
    for (const s of g.steps) {
      expect(s.x + DEFAULT_SIZES.boxWidth).toBeLessThanOrEqual(g.width);
      expect(s.y + DEFAULT_SIZES.boxHeight).toBeLessThanOrEqual(g.height);
    }
  });

  it('orders a layer by its parents, so that parallel chains do not cross', () => {
    // Two chains submitted in crossing order: a1 → a2, b1 → b2 with b2 listed first.
    const g = layoutWorkflow([step('a1'), step('b1'), step('b2', 'b1'), step('a2', 'a1')]);
    expect(g.byKey.get('a2')!.row).toBe(g.byKey.get('a1')!.row);
    expect(g.byKey.get('b2')!.row).toBe(g.byKey.get('b1')!.row);
  });

  it('lays out 500 steps quickly, with no two boxes at the same place', () => {
    const steps = [step('s0')];
    for (let i = 1; i < 500; i++) steps.push(step(`s${i}`, `s${Math.floor((i - 1) / 3)}`, ...(i % 7 === 0 ? ['s0'] : [])));
    const t0 = performance.now();
    const g = layoutWorkflow(steps);
    expect(performance.now() - t0).toBeLessThan(500);
    expect(new Set(g.steps.map((s) => `${s.x},${s.y}`)).size).toBe(500);
  });

  it('draws nothing for no steps', () => {
    const g = layoutWorkflow([]);
    expect(g.steps).toEqual([]);
    expect(g.width).toBe(0);
    expect(g.height).toBe(0);
  });
});

describe('edges that skip layers', () => {
  it('run in a lane of their own through the layers they cross, under no box', () => {
    // a → b → c → d, and a → d skips two layers.
    const g = layoutWorkflow([step('a'), step('b', 'a'), step('c', 'b'), step('d', 'c', 'a')]);
    const long = g.edges.find((e) => e.from === 'a' && e.to === 'd')!;
    // Straight segments across layers 1 and 2.
    expect(long.path.match(/ L/g)?.length).toBe(2);
    const ys = [...long.path.matchAll(/ L[\d.]+,([\d.]+)/g)].map((m) => Number(m[1]));
    const { boxHeight: h } = DEFAULT_SIZES;
    for (const k of ['b', 'c']) {
      const box = g.byKey.get(k)!;
      for (const y of ys) expect(y < box.y || y > box.y + h).toBe(true);
    }
  });
});

describe('steps added at run time', () => {
  const added = (key: string, by: string, ...dependsOn: string[]) => ({ key, dependsOn, addedBy: by });

  it('land after the step that added them, and what depends on them after them', () => {
    // wait → scan → index; scan added t1..t3, and index now waits for them too.
    const steps = [
      step('wait'),
      step('scan', 'wait'),
      step('index', 'scan', 't1', 't2', 't3'),
      added('t1', 'scan'),
      added('t2', 'scan'),
      added('t3', 'scan'),
    ];
    expect(Object.fromEntries(stepLayers(steps))).toEqual({ wait: 0, scan: 1, t1: 2, t2: 2, t3: 2, index: 3 });
    const g = layoutWorkflow(steps);
    const x = (k: string) => g.byKey.get(k)!.x;
    for (const t of ['t1', 't2', 't3']) {
      expect(x(t)).toBeGreaterThan(x('scan'));
      expect(x('index')).toBeGreaterThan(x(t));
    }
    // One "added by" edge per added step, besides the dependencies.
    const by = g.edges.filter((e) => e.kind === 'addedBy').map((e) => `${e.from}>${e.to}`);
    expect(by.sort()).toEqual(['scan>t1', 'scan>t2', 'scan>t3']);
    expect(g.edges.filter((e) => e.kind === 'dependsOn')).toHaveLength(5);
    expect(g.edges.every((e) => !e.added)).toBe(true);
  });

  it('chains: a step added by an added step lands after it', () => {
    const l = stepLayers([step('a'), added('b', 'a'), added('c', 'b'), step('d', 'c')]);
    expect(Object.fromEntries(l)).toEqual({ a: 0, b: 1, c: 2, d: 3 });
  });

  it('draw one edge, a dependency marked added, when the added step also waits for its adder', () => {
    const g = layoutWorkflow([step('scan'), added('t', 'scan', 'scan')]);
    expect(g.edges).toHaveLength(1);
    expect(g.edges[0]).toMatchObject({ from: 'scan', to: 't', kind: 'dependsOn', added: true });
  });

  it('run in a lane of their own when the added step is placed layers after its adder', () => {
    // a → b → c; a added x, which waits for c: the "added by" link skips layers 1 and 2.
    const g = layoutWorkflow([step('a'), step('b', 'a'), step('c', 'b'), added('x', 'a', 'c')]);
    expect(g.byKey.get('x')!.layer).toBe(3);
    const link = g.edges.find((e) => e.kind === 'addedBy')!;
    expect(link).toMatchObject({ from: 'a', to: 'x' });
    expect(link.path.match(/ L/g)?.length).toBe(2);
    const ys = [...link.path.matchAll(/ L[\d.]+,([\d.]+)/g)].map((m) => Number(m[1]));
    const { boxHeight: h } = DEFAULT_SIZES;
    for (const k of ['b', 'c']) {
      const box = g.byKey.get(k)!;
      for (const y of ys) expect(y < box.y || y > box.y + h).toBe(true);
    }
  });

  it('ignore an adder that is not a step', () => {
    const l = stepLayers([step('a'), added('b', 'ghost')]);
    expect(Object.fromEntries(l)).toEqual({ a: 0, b: 0 });
  });
});
