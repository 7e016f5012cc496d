import { describe, expect, it } from 'vitest';

import { SESSION_QUERY } from './operations';
import { SessionUnavailableError, fetchSession } from './session';

function fakeFetch(status: number, body: unknown) {
  const calls: { url: string; init: RequestInit }[] = [];
  const f = async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return { ok: status < 300, status, json: async () => (typeof body === 'string' ? JSON.parse(body) : body) };
  };
  return { f, calls };
}

const SESSION = { authRequired: true, authenticated: true, role: 'OPERATOR', insecure: false, tls: false, warnings: [] };

describe('fetchSession', () => {
  it('asks the session alone, with the key as a Bearer header', async () => {
    const { f, calls } = fakeFetch(200, { data: { session: SESSION } });
    await expect(fetchSession('k-123', { fetch: f })).resolves.toEqual(SESSION);
    expect(calls[0].url).toBe('/graphql');
    expect(calls[0].init.method).toBe('POST');
    expect((calls[0].init.headers as Record<string, string>).Authorization).toBe('Bearer k-123');
    expect(JSON.parse(calls[0].init.body as string).query).toBe(SESSION_QUERY);
  });

  it('sends no Authorization header without a key', async () => {
    const { f, calls } = fakeFetch(200, { data: { session: { ...SESSION, authenticated: false, role: null } } });
    await fetchSession(null, { fetch: f });
    expect(calls[0].init.headers).not.toHaveProperty('Authorization');
  });

  it('fails clearly when the node is unreachable or answers something else', async () => {
    const down = async () => {
      throw new TypeError('Failed to fetch');
    };
    await expect(fetchSession(null, { fetch: down })).rejects.toThrow(/Cannot reach the node \(Failed to fetch\)/);
    await expect(fetchSession(null, { fetch: fakeFetch(502, 'not json').f })).rejects.toBeInstanceOf(SessionUnavailableError);
    await expect(fetchSession(null, { fetch: fakeFetch(200, { errors: [{ message: 'boom' }] }).f })).rejects.toThrow('boom');
  });
});
