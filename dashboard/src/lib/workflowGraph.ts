// The layout of a workflow's graph: steps in layers from left to right (a
// step's layer is the longest path to it from a step that depends on
// nothing), ordered within each layer to keep edges short and crossings
// few, then placed on a grid. Pure: the view draws what this computes.
//
// A step that a running step added (Job.AddSteps) need not depend on it,
// yet it belongs after it: the link from the step that added it counts as
// an edge for the layout, and is drawn as an edge of its own kind.

/** A step as the layout needs it. */
export interface GraphStep {
  key: string;
  dependsOn: readonly string[];
  /** The key of the step that added this one while it ran; absent or null for a submitted step. */
  addedBy?: string | null;
}

/**
 * What an edge means: `dependsOn`, the step at `to` waits for the one at
 * `from`; `addedBy`, the step at `from` added the one at `to` while it ran
 * (and `to` does not wait for it, else the edge is a `dependsOn` one with
 * `added` set).
 */
export type EdgeKind = 'dependsOn' | 'addedBy';

export interface PlacedStep {
  key: string;
  layer: number;
  /** Position in its layer, from the top. */
  row: number;
  x: number;
  y: number;
}

export interface PlacedEdge {
  from: string;
  to: string;
  kind: EdgeKind;
  /** On a `dependsOn` edge: `from` also added `to`. */
  added: boolean;
  /** An SVG path from the right side of `from` to the left side of `to`. */
  path: string;
}

export interface GraphLayout {
  steps: PlacedStep[];
  byKey: ReadonlyMap<string, PlacedStep>;
  edges: PlacedEdge[];
  layers: number;
  width: number;
  height: number;
}

export interface LayoutSizes {
  boxWidth: number;
  boxHeight: number;
  /** Space between layers (where the arrows run). */
  gapX: number;
  /** Space between steps of a layer. */
  gapY: number;
  padding: number;
}

export const DEFAULT_SIZES: LayoutSizes = { boxWidth: 196, boxHeight: 78, gapX: 64, gapY: 16, padding: 16 };

/** One edge from a step into s, as the layout sees it. */
interface InEdge {
  from: string;
  kind: EdgeKind;
}

/**
 * The edges into a step: one per distinct dependency, then the link from
 * the step that added it unless it also depends on that step (one edge
 * between two steps is enough to place them).
 */
function inEdges(s: GraphStep): InEdge[] {
  const deps = new Set(s.dependsOn);
  const edges: InEdge[] = [...deps].map((from) => ({ from, kind: 'dependsOn' }));
  if (s.addedBy && !deps.has(s.addedBy)) edges.push({ from: s.addedBy, kind: 'addedBy' });
  return edges;
}

/**
 * Each step's layer: 0 for a step that depends on nothing (or only on keys
 * that are not steps) and was not added by a step, else one more than the
 * highest layer of the steps it depends on and of the step that added it.
 * Steps caught in a cycle (the API refuses those) go after every other, so
 * that a bad graph still draws.
 */
export function stepLayers(steps: readonly GraphStep[]): Map<string, number> {
  const keys = new Set(steps.map((s) => s.key));
  const parents = new Map<string, string[]>();
  const children = new Map<string, string[]>();
  const pending = new Map<string, number>();
  for (const s of steps) {
    const ps = inEdges(s)
      .map((e) => e.from)
      .filter((d) => keys.has(d) && d !== s.key);
    parents.set(s.key, ps);
    pending.set(s.key, ps.length);
    for (const p of ps) {
      const c = children.get(p);
      if (c) c.push(s.key);
      else children.set(p, [s.key]);
    }
  }
  const layer = new Map<string, number>();
  // Kahn's order: a step is placed once every parent is.
  const queue = steps.filter((s) => pending.get(s.key) === 0).map((s) => s.key);
  for (let i = 0; i < queue.length; i++) {
    const k = queue[i];
    let l = 0;
    for (const p of parents.get(k)!) l = Math.max(l, (layer.get(p) ?? 0) + 1);
    layer.set(k, l);
    for (const c of children.get(k) ?? []) {
      const n = pending.get(c)! - 1;
      pending.set(c, n);
      if (n === 0) queue.push(c);
    }
  }
  if (layer.size < steps.length) {
    const after = Math.max(-1, ...layer.values()) + 1;
    for (const s of steps) if (!layer.has(s.key)) layer.set(s.key, after);
  }
  return layer;
}

/** The mean of the rows of a step's neighbours, or null when it has none. */
function barycenter(neighbours: readonly string[] | undefined, rowOf: ReadonlyMap<string, number>): number | null {
  if (!neighbours || neighbours.length === 0) return null;
  let sum = 0;
  let n = 0;
  for (const k of neighbours) {
    const r = rowOf.get(k);
    if (r !== undefined) {
      sum += r;
      n++;
    }
  }
  return n > 0 ? sum / n : null;
}

/** A key for the point where an edge that skips layers crosses one (no step key has a '>' or a space). */
function via(from: string, to: string, layer: number): string {
  return `> ${from} ${to} ${layer}`;
}

/** Whether a key of a layer is a via, not a step. */
const isVia = (k: string) => k.startsWith('> ');

/**
 * Orders the steps of each layer: first in submission order, then a few
 * sweeps that sort each layer by the mean row of its neighbours in the
 * layer before (down) or after (up), which untangles most crossings. An
 * edge that skips layers gets a point in each layer it crosses (via), so
 * that it runs in a lane of its own, not under a box.
 */
function orderLayers(steps: readonly GraphStep[], layerOf: ReadonlyMap<string, number>): string[][] {
  const count = Math.max(-1, ...layerOf.values()) + 1;
  const layers: string[][] = Array.from({ length: count }, () => []);
  for (const s of steps) layers[layerOf.get(s.key)!].push(s.key);

  const parents = new Map<string, string[]>();
  const children = new Map<string, string[]>();
  const link = (p: string, c: string) => {
    const ps = parents.get(c);
    if (ps) ps.push(p);
    else parents.set(c, [p]);
    const cs = children.get(p);
    if (cs) cs.push(c);
    else children.set(p, [c]);
  };
  for (const s of steps) {
    const to = layerOf.get(s.key)!;
    for (const { from: d } of inEdges(s)) {
      const from = layerOf.get(d);
      if (from === undefined || d === s.key || from >= to) continue;
      let prev = d;
      for (let l = from + 1; l < to; l++) {
        const v = via(d, s.key, l);
        layers[l].push(v);
        link(prev, v);
        prev = v;
      }
      link(prev, s.key);
    }
  }
  const rowOf = new Map<string, number>();
  for (const l of layers) l.forEach((k, i) => rowOf.set(k, i));
  const sortBy = (l: string[], near: Map<string, string[]>) => {
    const keyed = l.map((k, i) => ({ k, i, b: barycenter(near.get(k), rowOf) ?? i }));
    keyed.sort((a, b) => a.b - b.b || a.i - b.i);
    keyed.forEach((e, i) => {
      l[i] = e.k;
      rowOf.set(e.k, i);
    });
  };
  for (let sweep = 0; sweep < 4; sweep++) {
    if (sweep % 2 === 0) for (let i = 1; i < layers.length; i++) sortBy(layers[i], parents);
    else for (let i = layers.length - 2; i >= 0; i--) sortBy(layers[i], children);
  }
  return layers;
}

/** How tall the lane of an edge that crosses a layer is. */
const LANE = 12;

/** Lays the steps out on a grid, layers left to right, each layer centred vertically. */
export function layoutWorkflow(steps: readonly GraphStep[], sizes: LayoutSizes = DEFAULT_SIZES): GraphLayout {
  const { boxWidth: w, boxHeight: h, gapX, gapY, padding } = sizes;
  const layerOf = stepLayers(steps);
  const layers = orderLayers(steps, layerOf);
  const span = (l: string[]) => l.reduce((sum, k) => sum + (isVia(k) ? LANE : h), 0) + Math.max(0, l.length - 1) * gapY;
  const tallest = Math.max(0, ...layers.map(span));
  const height = tallest === 0 ? 0 : padding * 2 + tallest;
  const width = layers.length === 0 ? 0 : padding * 2 + layers.length * w + (layers.length - 1) * gapX;

  const byKey = new Map<string, PlacedStep>();
  const lanes = new Map<string, { x: number; y: number }>();
  const placed: PlacedStep[] = [];
  layers.forEach((l, layer) => {
    let y = padding + (tallest - span(l)) / 2;
    let row = 0;
    const x = padding + layer * (w + gapX);
    for (const key of l) {
      if (isVia(key)) {
        lanes.set(key, { x, y: y + LANE / 2 });
        y += LANE + gapY;
        continue;
      }
      const p = { key, layer, row: row++, x, y };
      byKey.set(key, p);
      placed.push(p);
      y += h + gapY;
    }
  });

  const edges: PlacedEdge[] = [];
  for (const s of steps) {
    const to = byKey.get(s.key)!;
    for (const { from: d, kind } of inEdges(s)) {
      const from = byKey.get(d);
      if (!from || d === s.key) continue;
      // The points where it crosses the layers between.
      const through: { x: number; y: number }[] = [];
      for (let l = from.layer + 1; l < to.layer; l++) {
        const p = lanes.get(via(d, s.key, l));
        if (p) through.push(p);
      }
      edges.push({ from: d, to: s.key, kind, added: kind === 'dependsOn' && s.addedBy === d, path: edgePath(from, to, through, w, h) });
    }
  }
  return { steps: placed, byKey, edges, layers: layers.length, width, height };
}

/**
 * A smooth curve from the middle of a's right side to the middle of b's
 * left side, straight across each layer it crosses (through, left to right).
 */
function edgePath(a: PlacedStep, b: PlacedStep, through: readonly { x: number; y: number }[], w: number, h: number): string {
  const r = (n: number) => Math.round(n * 10) / 10;
  let x = a.x + w;
  let y = a.y + h / 2;
  let d = `M${r(x)},${r(y)}`;
  const curveTo = (x2: number, y2: number) => {
    const dx = Math.max(24, (x2 - x) / 2);
    d += ` C${r(x + dx)},${r(y)} ${r(x2 - dx)},${r(y2)} ${r(x2)},${r(y2)}`;
    x = x2;
    y = y2;
  };
  for (const p of through) {
    curveTo(p.x, p.y);
    x = p.x + w;
    d += ` L${r(x)},${r(y)}`;
  }
  curveTo(b.x - 2, b.y + h / 2); // the arrowhead ends at the box
  return d;
}
