// Workflows: steps that depend on each other.

import type { ArchivistClient, Unsubscribe } from './client.js';
import {
  CancelWorkflowDocument,
  RetryWorkflowDocument,
  SubmitWorkflowDocument,
  WorkflowDocument,
  WorkflowUpdatedDocument,
  WorkflowsDocument,
  type WorkflowFieldsFragment,
  type WorkflowFilter,
  type WorkflowInput,
  type WorkflowWithStepsFieldsFragment,
} from './generated/graphql.js';
import type { ListOptions, Page } from './tasks.js';
import { watch, type WatchHandlers } from './watch.js';

/** A workflow's own fields. */
export type Workflow = WorkflowFieldsFragment;
/** A workflow with its steps and their tasks. */
export type WorkflowWithSteps = WorkflowWithStepsFieldsFragment;

/** Submits a workflow (BAD_USER_INPUT for a cycle, an unknown dependency or type). */
export async function submitWorkflow(client: ArchivistClient, input: WorkflowInput): Promise<WorkflowWithSteps> {
  return (await client.request(SubmitWorkflowDocument, { input })).submitWorkflow;
}

/** The workflow with its steps, or null when there is none with that id. */
export async function getWorkflow(client: ArchivistClient, id: string): Promise<WorkflowWithSteps | null> {
  return (await client.request(WorkflowDocument, { id })).workflow;
}

/** One page of the workflows that match the filter, newest first. */
export async function listWorkflows(client: ArchivistClient, options: ListOptions<WorkflowFilter> = {}): Promise<Page<Workflow>> {
  const { workflows } = await client.request(WorkflowsDocument, {
    filter: options.filter ?? null,
    first: options.first ?? null,
    after: options.after ?? null,
  });
  return {
    items: workflows.edges.map((e) => e.node),
    totalCount: workflows.totalCount,
    hasNextPage: workflows.pageInfo.hasNextPage,
    endCursor: workflows.pageInfo.endCursor,
  };
}

/** Cancels a workflow's unfinished steps. */
export async function cancelWorkflow(client: ArchivistClient, id: string): Promise<Workflow> {
  return (await client.request(CancelWorkflowDocument, { id })).cancelWorkflow;
}

/** Runs a workflow's failed and cancelled steps again. */
export async function retryWorkflow(client: ArchivistClient, id: string): Promise<Workflow> {
  return (await client.request(RetryWorkflowDocument, { id })).retryWorkflow;
}

/**
 * Follows one workflow: its state now (the node sends it first whenever the
 * subscription starts, after a gap too), then each change.
 */
export function watchWorkflow(client: ArchivistClient, id: string, handlers: WatchHandlers<Workflow>): Unsubscribe {
  return watch(client, WorkflowUpdatedDocument, { id }, (r) => r.workflowUpdated, handlers);
}
