import { describe, expect, it } from 'vitest';

import { EXAMPLE_WORKFLOW, checkWorkflowInput } from './workflowSubmit';

describe('checkWorkflowInput', () => {
  it('takes the example', () => {
    const r = checkWorkflowInput(EXAMPLE_WORKFLOW);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value.steps.map((s) => s.key)).toEqual(['roll', 'wait', 'report', 'done']);
  });

  it.each([
    ['', 'Type the workflow'],
    ['{ "name": ', 'Invalid JSON'],
    ['[]', 'JSON object'],
    ['{ "steps": [{ "key": "a", "type": "echo" }] }', 'needs a name'],
    ['{ "name": "x", "steps": [] }', 'at least one step'],
    ['{ "name": "x", "steps": [{ "key": "a b", "type": "echo" }] }', 'key must be'],
    ['{ "name": "x", "steps": [{ "key": "a", "type": "echo" }, { "key": "a", "type": "echo" }] }', 'Two steps have the key a'],
    ['{ "name": "x", "steps": [{ "key": "a" }] }', 'needs a type'],
    ['{ "name": "x", "steps": [{ "key": "a", "type": "echo", "dependsOn": ["b"] }] }', 'depends on b, which is no step'],
    ['{ "name": "x", "onFailure": "SOMETIMES", "steps": [{ "key": "a", "type": "echo" }] }', 'FAIL_FAST or CONTINUE'],
    ['{ "name": "x", "group": "*", "steps": [{ "key": "a", "type": "echo" }] }', 'group: "*" is reserved'],
    ['{ "name": "x", "group": 7, "steps": [{ "key": "a", "type": "echo" }] }', 'group: a string'],
  ])('refuses %s', (text, want) => {
    const r = checkWorkflowInput(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toContain(want);
  });

  it('takes a group', () => {
    const r = checkWorkflowInput('{ "name": "x", "group": "campaign-42", "steps": [{ "key": "a", "type": "echo" }] }');
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value.group).toBe('campaign-42');
  });
});
