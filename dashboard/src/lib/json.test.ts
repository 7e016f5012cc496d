import { describe, expect, it } from 'vitest';

import { checkJSON } from './json';

describe('checkJSON', () => {
  it('accepts JSON and empty text', () => {
    expect(checkJSON('{"ms": 1500}')).toEqual({ ok: true, value: { ms: 1500 }, empty: false });
    expect(checkJSON('  ')).toEqual({ ok: true, value: null, empty: true });
    expect(checkJSON('[1, "two", null]')).toMatchObject({ ok: true, value: [1, 'two', null] });
  });

  it('tells where the error is', () => {
    const r = checkJSON('{\n  "ms": 1500,\n}');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.line).toBe(3);
    expect(r.message).toMatch(/^line 3, column 1: /);
  });

  it('reports unfinished input', () => {
    const r = checkJSON('{ "ms": 1500 ');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.line).toBe(1);
  });
});
