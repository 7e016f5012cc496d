import { describe, expect, it } from 'vitest';
import type { Client, ClientOptions } from 'graphql-ws';

import { asError, createFetcher, isSubscription, mergeHeaders, resolveOperation } from './fetcher';

describe('mergeHeaders', () => {
  it('puts the typed headers on top, whatever their case', () => {
    expect(mergeHeaders({ Authorization: 'Bearer dash' }, { authorization: 'Bearer typed', 'X-Trace': 7 })).toEqual({
      authorization: 'Bearer typed',
      'X-Trace': '7',
    });
    expect(mergeHeaders({ Authorization: 'Bearer dash' }, undefined)).toEqual({ Authorization: 'Bearer dash' });
  });
});

describe('isSubscription', () => {
  it('reads the operation GraphiQL runs', () => {
    const q = 'query A { nodes { id } } subscription B { taskUpdated { id } }';
    expect(isSubscription({ query: q, operationName: 'B' })).toBe(true);
    expect(isSubscription({ query: q, operationName: 'A' })).toBe(false);
    expect(isSubscription({ query: 'subscription { taskUpdated { id } }' })).toBe(true);
    expect(isSubscription({ query: 'subscription {' })).toBe(false);
  });
});

describe('resolveOperation', () => {
  it("runs a document's one operation whatever name GraphiQL still holds", () => {
    expect(resolveOperation({ query: '{ session { role } }', operationName: 'Beats' }).params.operationName).toBeNull();
    expect(resolveOperation({ query: 'query Q { a }', operationName: 'Beats' }).params.operationName).toBe('Q');
    const two = 'query A { a } query B { b }';
    expect(resolveOperation({ query: two, operationName: 'B' }).params.operationName).toBe('B');
    // Two operations and an unknown name: the node says so.
    expect(resolveOperation({ query: two, operationName: 'C' }).params.operationName).toBe('C');
  });
});

describe('asError', () => {
  it('explains a close of the WebSocket', () => {
    expect(asError({ code: 4401, reason: 'Unauthorized' }).message).toContain('4401 Unauthorized');
    expect(asError([{ message: 'a' }, { message: 'b' }]).message).toBe('a; b');
    expect(asError('x').message).toBe('x');
  });
});

describe('createFetcher', () => {
  it('sends the key over HTTP, with the typed headers on top', async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    const fakeFetch = (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return new Response('{"data":{"nodes":[]}}');
    }) as unknown as typeof fetch;
    const f = createFetcher({ url: '/graphql', subscriptionUrl: 'ws://h/graphql', headers: { Authorization: 'Bearer k' }, fetch: fakeFetch });
    expect(await f({ query: '{ nodes { id } }' })).toEqual({ data: { nodes: [] } });
    expect((calls[0].init.headers as Record<string, string>).Authorization).toBe('Bearer k');
    await f({ query: '{ nodes { id } }' }, { headers: { Authorization: 'Bearer other' } });
    expect((calls[1].init.headers as Record<string, string>).Authorization).toBe('Bearer other');
  });

  it('says what came back when it is not JSON', async () => {
    const fakeFetch = (async () => new Response('bad gateway', { status: 502 })) as unknown as typeof fetch;
    const f = createFetcher({ url: '/graphql', subscriptionUrl: 'ws://h/graphql', headers: {}, fetch: fakeFetch });
    await expect(f({ query: '{ nodes { id } }' }) as Promise<unknown>).rejects.toThrow('HTTP 502: bad gateway');
  });

  it('runs subscriptions on a client whose connection_init carries the key', async () => {
    const made: ClientOptions[] = [];
    const fakeClient = (opts: ClientOptions) => {
      made.push(opts);
      return {
        iterate: () =>
          (async function* () {
            yield { data: { taskUpdated: { id: 't1' } } };
          })(),
        dispose: () => {},
      } as unknown as Client;
    };
    const f = createFetcher({
      url: '/graphql',
      subscriptionUrl: 'ws://h/graphql',
      headers: { Authorization: 'Bearer k' },
      createClient: fakeClient as never,
    });
    const out = [];
    for await (const r of f({ query: 'subscription { taskUpdated { id } }' }) as AsyncIterable<unknown>) out.push(r);
    expect(out).toEqual([{ data: { taskUpdated: { id: 't1' } } }]);
    expect(made[0].connectionParams).toEqual({ Authorization: 'Bearer k' });
    // Same parameters, same client; typed headers, another.
    for await (const _ of f({ query: 'subscription { taskUpdated { id } }' }) as AsyncIterable<unknown>) void _;
    expect(made).toHaveLength(1);
    for await (const _ of f({ query: 'subscription { taskUpdated { id } }' }, { headers: { 'X-A': 'b' } }) as AsyncIterable<unknown>) void _;
    expect(made[1].connectionParams).toEqual({ Authorization: 'Bearer k', 'X-A': 'b' });
  });
});
