// What GraphiQL keeps in localStorage, without request headers. GraphiQL's
// shouldPersistHeaders={false} keeps the Headers editor out of its tabs,
// but its history ("graphiql:queries", "graphiql:favorites") still records
// each run's headers, and a header may hold an API key: this wrapper drops
// every "headers" of what GraphiQL writes, and the Headers editor's own key.

/** The Storage GraphiQL's storage prop takes (localStorage's shape). */
export interface GraphiQLStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
  clear(): void;
  readonly length: number;
}

const NAMESPACE = 'graphiql:';

/** value without any "headers" property (at any depth), when it is JSON; else as it is. */
export function withoutHeaders(value: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return value;
  }
  if (parsed === null || typeof parsed !== 'object') return value;
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v === null || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k !== 'headers') out[k] = strip(x);
    }
    return out;
  };
  return JSON.stringify(strip(parsed));
}

/** GraphiQL's keys in inner (localStorage), with headers never written. */
export function headerlessStorage(inner: Storage): GraphiQLStorage {
  const ownKeys = () => {
    const keys: string[] = [];
    for (let i = 0; i < inner.length; i++) {
      const k = inner.key(i);
      if (k?.startsWith(NAMESPACE)) keys.push(k);
    }
    return keys;
  };
  return {
    getItem: (key) => inner.getItem(key),
    setItem(key, value) {
      if (key === `${NAMESPACE}headers`) {
        inner.removeItem(key);
        return;
      }
      inner.setItem(key, withoutHeaders(value));
    },
    removeItem: (key) => inner.removeItem(key),
    clear() {
      for (const k of ownKeys()) inner.removeItem(k);
    },
    get length() {
      return ownKeys().length;
    },
  };
}
