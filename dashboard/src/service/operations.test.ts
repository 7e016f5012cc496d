// Every GraphQL document of the dashboard is one the server accepts: each is
// validated against the server's schema (graph/*.graphqls), so that a
// schema change that breaks the dashboard fails here, not on a screen.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';

import * as ops from './operations';

const graphDir = join(import.meta.dirname, '..', '..', '..', 'graph');
const schema = buildSchema(
  readdirSync(graphDir)
    .filter((f) => f.endsWith('.graphqls'))
    .sort()
    .map((f) => readFileSync(join(graphDir, f), 'utf8'))
    .join('\n'),
);

const documents: [string, string][] = [];
for (const [name, value] of Object.entries(ops)) {
  if (typeof value === 'string') documents.push([name, value]);
  else for (const [key, doc] of Object.entries(value as Record<string, string>)) documents.push([`${name}.${key}`, doc]);
}

describe('the dashboard operations', () => {
  it('are all checked', () => {
    expect(documents.length).toBeGreaterThan(40);
  });
  for (const [name, doc] of documents) {
    it(`${name} is valid against the schema`, () => {
      const errors = validate(schema, parse(doc)).map((e) => e.message);
      expect(errors).toEqual([]);
    });
  }
});
