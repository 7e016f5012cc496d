import { describe, expect, it } from 'vitest';

import type { ProcessingNode } from '../service/types';
import { checkNodeDraft, nodeDraftFrom } from './nodeForm';

const node = {
  id: 'n1',
  name: 'scribe',
  role: 'HYBRID',
  workers: 4,
  capabilities: ['echo'],
} as unknown as ProcessingNode;

describe('checkNodeDraft', () => {
  it('sends nothing for an unchanged draft', () => {
    expect(checkNodeDraft(nodeDraftFrom(node), node)).toEqual({ change: {}, errors: {} });
  });

  it('sends only what changed', () => {
    const d = { ...nodeDraftFrom(node), role: 'WORKER' as const, workers: ' 8 ', capabilities: 'text.*, dice.simulate,' };
    expect(checkNodeDraft(d, node)).toEqual({ change: { role: 'WORKER', workers: 8, capabilities: ['text.*', 'dice.simulate'] }, errors: {} });
  });

  it('sends an empty capability list to take any type', () => {
    expect(checkNodeDraft({ ...nodeDraftFrom(node), capabilities: ' ' }, node).change).toEqual({ capabilities: [] });
  });

  it('refuses bad values', () => {
    const { errors } = checkNodeDraft({ name: ' ', role: 'MASTER', workers: '0', capabilities: 'two words' }, node);
    expect(Object.keys(errors).sort()).toEqual(['capabilities', 'name', 'workers']);
    expect(checkNodeDraft({ ...nodeDraftFrom(node), workers: '10001' }, node).errors.workers).toBeDefined();
    expect(checkNodeDraft({ ...nodeDraftFrom(node), workers: '2.5' }, node).errors.workers).toBeDefined();
  });
});
