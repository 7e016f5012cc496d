// Checks a workflow typed as JSON (a WorkflowInput) before it is sent: the
// shape, unique step keys, dependencies on known steps. The node checks the
// rest (task types, cycles, $refs) and says what is wrong.

import type { JSONValue, WorkflowInput } from '../service/types';
import { groupError } from './group';
import { checkJSON } from './json';

export type WorkflowCheck = { ok: true; value: WorkflowInput } | { ok: false; message: string };

/** The example the form starts with: three steps, two in parallel after the first. */
export const EXAMPLE_WORKFLOW = `{
  "name": "roll-and-echo",
  "onFailure": "FAIL_FAST",
  "steps": [
    { "key": "roll", "type": "dice.simulate", "input": { "expr": "4d6kh3", "trials": 1000 } },
    { "key": "wait", "type": "sleep", "dependsOn": ["roll"], "input": { "ms": 1500 } },
    { "key": "report", "type": "echo", "dependsOn": ["roll"], "input": { "histogram": { "$ref": "roll.result" } } },
    { "key": "done", "type": "echo", "dependsOn": ["wait", "report"], "input": "done" }
  ]
}`;

const KEY = /^[A-Za-z0-9_-]{1,64}$/;

function isObject(v: JSONValue | undefined): v is { [key: string]: JSONValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses and checks a WorkflowInput typed as JSON. */
export function checkWorkflowInput(text: string): WorkflowCheck {
  const j = checkJSON(text);
  if (!j.ok) return { ok: false, message: `Invalid JSON: ${j.message}` };
  if (j.empty) return { ok: false, message: 'Type the workflow as JSON.' };
  const v = j.value;
  if (!isObject(v)) return { ok: false, message: 'The workflow must be a JSON object with a name and steps.' };
  if (typeof v.name !== 'string' || v.name.trim() === '') return { ok: false, message: 'The workflow needs a name.' };
  if (v.onFailure !== undefined && v.onFailure !== 'FAIL_FAST' && v.onFailure !== 'CONTINUE') {
    return { ok: false, message: 'onFailure is FAIL_FAST or CONTINUE.' };
  }
  if (v.group !== undefined && v.group !== null) {
    const e = typeof v.group === 'string' ? groupError(v.group) : 'a string';
    if (e) return { ok: false, message: `group: ${e}.` };
  }
  if (!Array.isArray(v.steps) || v.steps.length === 0) return { ok: false, message: 'The workflow needs at least one step.' };
  const keys = new Set<string>();
  for (const [i, s] of v.steps.entries()) {
    if (!isObject(s)) return { ok: false, message: `Step ${i + 1} is not an object.` };
    if (typeof s.key !== 'string' || !KEY.test(s.key)) {
      return { ok: false, message: `Step ${i + 1}: key must be 1 to 64 letters, digits, '-' or '_'.` };
    }
    if (keys.has(s.key)) return { ok: false, message: `Two steps have the key ${s.key}.` };
    keys.add(s.key);
    if (typeof s.type !== 'string' || s.type === '') return { ok: false, message: `Step ${s.key} needs a type.` };
    if (s.dependsOn !== undefined && (!Array.isArray(s.dependsOn) || s.dependsOn.some((d) => typeof d !== 'string'))) {
      return { ok: false, message: `Step ${s.key}: dependsOn is a list of step keys.` };
    }
  }
  for (const s of v.steps as { key: string; dependsOn?: string[] }[]) {
    for (const d of s.dependsOn ?? []) {
      if (!keys.has(d)) return { ok: false, message: `Step ${s.key} depends on ${d}, which is no step.` };
      if (d === s.key) return { ok: false, message: `Step ${s.key} depends on itself.` };
    }
  }
  return { ok: true, value: v as unknown as WorkflowInput };
}
