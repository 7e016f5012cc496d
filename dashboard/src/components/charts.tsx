// Hand-written SVG charts: a sparkline for node samples and a time-series
// chart for throughput and latency. No chart library: these two shapes are
// all the dashboard draws, and they stay a few kilobytes.

import { useEffect, useRef, useState, type ReactNode } from 'react';

/**
 * A tiny line of recent values, newest at the right, one of slots places
 * per value (so it fills up from the right as samples arrive), with its
 * area filled, scaled to [0, max]. It stretches to its box's width.
 */
export function Sparkline({
  values,
  max,
  label,
  color = 'var(--accent)',
  slots = 60,
  height = 28,
}: {
  values: number[];
  /** The top of the scale; default a little over the largest value (at least 1). */
  max?: number;
  label: string;
  color?: string;
  slots?: number;
  height?: number;
}) {
  const width = 120;
  const top = max ?? Math.max(1, Math.max(0, ...values) * 1.25);
  const vs = values.slice(-slots);
  const step = width / Math.max(1, slots - 1);
  const pts = vs.map((v, i) => {
    const x = width - (vs.length - 1 - i) * step;
    const y = height - 1 - (Math.min(Math.max(v, 0), top) / top) * (height - 2);
    return [x, y] as const;
  });
  const line = pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  const area = pts.length > 1 ? `M${pts[0][0].toFixed(1)},${height} L${line.replace(/ /g, ' L')} L${width},${height} Z` : '';
  return (
    <svg className="sparkline" height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label} preserveAspectRatio="none">
      <line x1={0} x2={width} y1={height - 0.5} y2={height - 0.5} className="spark-base" vectorEffect="non-scaling-stroke" />
      {area && <path d={area} fill={color} opacity={0.15} />}
      {pts.length > 1 && (
        <polyline points={line} fill="none" stroke={color} strokeWidth={1.5} strokeLinejoin="round" vectorEffect="non-scaling-stroke" />
      )}
      {pts.length === 1 && <line x1={width - step} x2={width} y1={pts[0][1]} y2={pts[0][1]} stroke={color} strokeWidth={1.5} vectorEffect="non-scaling-stroke" />}
    </svg>
  );
}

/** The width of an element, kept current with a ResizeObserver. */
function useWidth<T extends HTMLElement>(initial = 600): [React.RefObject<T | null>, number] {
  const ref = useRef<T>(null);
  const [w, setW] = useState(initial);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    setW(el.clientWidth || initial);
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver((entries) => {
      const cw = Math.round(entries[0].contentRect.width);
      if (cw > 0) setW(cw);
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, [initial]);
  return [ref, w];
}

/** A round number at or above v for the top of an axis. */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** Spacings of the time axis' ticks, the smallest that gives at most six is used. */
const TICK_STEPS = [15_000, 60_000, 5 * 60_000, 15 * 60_000, 3_600_000, 3 * 3_600_000, 6 * 3_600_000];

export interface Series {
  label: string;
  color: string;
  values: (number | null)[];
  /** Dashed line. */
  dashed?: boolean;
}

/**
 * Lines over time, one point per bucket, the last point being now. Null
 * values leave gaps.
 */
export function TimeSeriesChart({
  title,
  series,
  bucketMs,
  formatY,
  height = 180,
  summary,
  minTop = 1,
}: {
  title: string;
  series: Series[];
  bucketMs: number;
  formatY: (v: number) => string;
  height?: number;
  /** The least top of the y axis, so that an idle chart keeps a sensible scale. */
  minTop?: number;
  /** Text read by screen readers and shown under the chart. */
  summary: ReactNode;
}) {
  const [ref, width] = useWidth<HTMLDivElement>();
  const padL = 52;
  const padR = 12;
  const padT = 10;
  const padB = 24;
  const n = Math.max(...series.map((s) => s.values.length), 2);
  const maxV = niceCeil(Math.max(minTop, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null))));
  const plotW = Math.max(10, width - padL - padR);
  const plotH = height - padT - padB;
  const x = (i: number) => padL + (i / (n - 1)) * plotW;
  const y = (v: number) => padT + plotH - (v / maxV) * plotH;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * maxV);
  // Ticks at round times back from now, at most about six of them.
  const spanMs = (n - 1) * bucketMs;
  const every = TICK_STEPS.find((s) => spanMs / s <= 6) ?? TICK_STEPS[TICK_STEPS.length - 1];
  const xTicks: { i: number; label: string }[] = [];
  for (let back = Math.floor(spanMs / every) * every; back >= 0; back -= every) {
    const i = n - 1 - back / bucketMs;
    if (i < 0) continue;
    const label =
      back === 0 ? 'now' : back < 60_000 ? `−${back / 1000} s` : back < 3_600_000 ? `−${back / 60_000} min` : `−${back / 3_600_000} h`;
    xTicks.push({ i, label });
  }

  const paths = series.map((s) => {
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    return d;
  });

  return (
    <figure className="chart">
      <figcaption className="chart-title">
        <span>{title}</span>
        <span className="legend">
          {series.map((s) => (
            <span key={s.label} className="legend-item">
              <span className={`swatch${s.dashed ? ' dashed' : ''}`} style={{ borderColor: s.color }} aria-hidden="true" />
              {s.label}
            </span>
          ))}
        </span>
      </figcaption>
      <div ref={ref} className="chart-body">
        <svg width={width} height={height} role="img" aria-label={`${title}. ${typeof summary === 'string' ? summary : ''}`}>
          {ticks.map((t) => (
            <g key={t}>
              <line className="grid" x1={padL} x2={padL + plotW} y1={y(t)} y2={y(t)} />
              <text className="axis" x={padL - 6} y={y(t)} dy="0.32em" textAnchor="end">
                {formatY(t)}
              </text>
            </g>
          ))}
          {xTicks.map((t) => (
            <text key={t.i} className="axis" x={x(t.i)} y={height - 6} textAnchor={t.i === n - 1 ? 'end' : 'middle'}>
              {t.label}
            </text>
          ))}
          {paths.map((d, k) => (
            <path
              key={series[k].label}
              d={d}
              fill="none"
              stroke={series[k].color}
              strokeWidth={2}
              strokeLinejoin="round"
              strokeDasharray={series[k].dashed ? '5 4' : undefined}
            />
          ))}
          {/* A value with no neighbour draws no line: a dot shows it. */}
          {series.map((s) =>
            s.values.map((v, i) =>
              v !== null && (s.values[i - 1] ?? null) === null && (s.values[i + 1] ?? null) === null ? (
                <circle key={`${s.label}-${i}`} cx={x(i)} cy={y(v)} r={2.5} fill={s.color} />
              ) : null,
            ),
          )}
        </svg>
      </div>
      <p className="chart-summary">{summary}</p>
    </figure>
  );
}

/** A horizontal bar split by parts, with a legend of counts. */
export function StackedBar({
  parts,
  label,
}: {
  parts: { key: string; value: number; className: string }[];
  label: string;
}) {
  const total = parts.reduce((a, p) => a + p.value, 0);
  return (
    <div className="stacked-bar" role="img" aria-label={label}>
      {total === 0 ? (
        <span className="stacked-empty" />
      ) : (
        parts
          .filter((p) => p.value > 0)
          .map((p) => <span key={p.key} className={p.className} style={{ flexGrow: p.value }} title={`${p.key}: ${p.value}`} />)
      )}
    </div>
  );
}
