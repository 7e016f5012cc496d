import { describe, expect, it } from 'vitest';

import { headerlessStorage, withoutHeaders } from './storage';

/** An in-memory Storage. */
function memoryStorage(): Storage {
  const m = new Map<string, string>();
  return {
    getItem: (k) => m.get(k) ?? null,
    setItem: (k, v) => void m.set(k, String(v)),
    removeItem: (k) => void m.delete(k),
    clear: () => m.clear(),
    key: (i) => [...m.keys()][i] ?? null,
    get length() {
      return m.size;
    },
  };
}

describe('withoutHeaders', () => {
  it("drops every run's headers from GraphiQL's history and tabs", () => {
    const history = JSON.stringify({
      queries: [{ query: '{ a }' }, { query: 'subscription B { b }', headers: '{"Authorization":"Bearer k-secret"}', operationName: 'B' }],
    });
    const out = withoutHeaders(history);
    expect(out).not.toContain('k-secret');
    expect(JSON.parse(out)).toEqual({ queries: [{ query: '{ a }' }, { query: 'subscription B { b }', operationName: 'B' }] });
    expect(withoutHeaders('{"tabs":[{"query":"{ a }","headers":"{}"}],"activeTabIndex":0}')).toBe('{"tabs":[{"query":"{ a }"}],"activeTabIndex":0}');
  });

  it('leaves other values as they are', () => {
    expect(withoutHeaders('{ nodes { id } }')).toBe('{ nodes { id } }');
    expect(withoutHeaders('42')).toBe('42');
  });
});

describe('headerlessStorage', () => {
  it("writes no header to the storage, and counts and clears GraphiQL's keys only", () => {
    const inner = memoryStorage();
    inner.setItem('archivist.other', 'x');
    const s = headerlessStorage(inner);
    s.setItem('graphiql:headers', '{"Authorization":"Bearer k-secret"}');
    s.setItem('graphiql:queries', '{"queries":[{"query":"{ a }","headers":"{\\"Authorization\\":\\"Bearer k-secret\\"}"}]}');
    s.setItem('graphiql:query', '{ a }');
    expect(inner.getItem('graphiql:headers')).toBeNull();
    expect(inner.getItem('graphiql:queries')).toBe('{"queries":[{"query":"{ a }"}]}');
    expect(s.getItem('graphiql:query')).toBe('{ a }');
    expect(s.length).toBe(2);
    s.clear();
    expect(s.length).toBe(0);
    expect(inner.getItem('archivist.other')).toBe('x');
  });
});
