// The node edit form's values, their checks (the ranges of NodeInput in
// graph/node.graphqls) and the change to send (updateNode).

import type { NodeInput, NodeRole, ProcessingNode } from '../service/types';

/** The form's values, as typed (workers as text, capabilities comma-separated). */
export interface NodeDraft {
  name: string;
  role: NodeRole;
  workers: string;
  capabilities: string;
}

export type NodeDraftErrors = Partial<Record<keyof NodeDraft, string>>;

export function nodeDraftFrom(n: ProcessingNode): NodeDraft {
  return { name: n.name, role: n.role, workers: String(n.workers), capabilities: n.capabilities.join(', ') };
}

/** The capabilities of a draft: comma-separated, trimmed, empty items dropped. */
export function splitCapabilities(s: string): string[] {
  return s
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
}

/** The fields of the draft that differ from the node, and what is wrong with them. */
export function checkNodeDraft(d: NodeDraft, n: ProcessingNode): { change: NodeInput; errors: NodeDraftErrors } {
  const change: NodeInput = {};
  const errors: NodeDraftErrors = {};
  const name = d.name.trim();
  if (name === '') errors.name = 'Name: 1 to 100 characters';
  else if ([...name].length > 100) errors.name = 'Name: at most 100 characters';
  else if (name !== n.name) change.name = name;
  if (d.role !== n.role) change.role = d.role;
  const w = Number(d.workers.trim());
  // A node that runs no tasks (MASTER) shows 0 workers: keep it unless changed.
  if (d.workers.trim() !== String(n.workers)) {
    if (!/^\d+$/.test(d.workers.trim()) || w < 1 || w > 10000) errors.workers = 'Workers: a whole number from 1 to 10000';
    else change.workers = w;
  }
  const caps = splitCapabilities(d.capabilities);
  const bad = caps.find((c) => /\s/.test(c) || c.length > 200);
  if (bad !== undefined) errors.capabilities = `Capability "${bad}": a task type or pattern such as text.*, without spaces`;
  else if (caps.join(',') !== n.capabilities.join(',')) change.capabilities = caps;
  return { change, errors };
}
