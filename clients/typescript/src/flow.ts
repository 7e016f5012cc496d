// Groups (campaigns), limits and paused task types.

import type { ArchivistClient } from './client.js';
import {
  DeleteLimitDocument,
  LimitsDocument,
  PauseTaskTypeDocument,
  ResumeTaskTypeDocument,
  SetLimitDocument,
  TaskGroupsDocument,
  TaskTypeStatesDocument,
  type LimitFieldsFragment,
  type LimitInput,
  type TaskGroupsQuery,
  type TaskTypeStatesQuery,
} from './generated/graphql.js';

/** A limit of a scope (task type, group or both) with its current use. */
export type Limit = LimitFieldsFragment;
/** A group's task counts. */
export type TaskGroup = TaskGroupsQuery['taskGroups'][number];
/** Whether a task type is paused. */
export type TaskTypeState = TaskTypeStatesQuery['taskTypeStates'][number];

/** The groups that have tasks, busiest first (first: how many, default 20). */
export async function listGroups(client: ArchivistClient, first?: number): Promise<TaskGroup[]> {
  return (await client.request(TaskGroupsDocument, { first: first ?? null })).taskGroups;
}

/** Every limit, with its use. */
export async function listLimits(client: ArchivistClient): Promise<Limit[]> {
  return (await client.request(LimitsDocument)).limits;
}

/** Sets the limit of a scope, replacing the one it had. */
export async function setLimit(client: ArchivistClient, input: LimitInput): Promise<Limit> {
  return (await client.request(SetLimitDocument, { input })).setLimit;
}

/** Deletes a limit. */
export async function deleteLimit(client: ArchivistClient, id: string): Promise<boolean> {
  return (await client.request(DeleteLimitDocument, { id })).deleteLimit;
}

/** The task types, each with whether it is paused. */
export async function listTaskTypeStates(client: ArchivistClient): Promise<TaskTypeState[]> {
  return (await client.request(TaskTypeStatesDocument)).taskTypeStates;
}

/** Pauses a task type: its tasks queue but none starts. */
export async function pauseTaskType(client: ArchivistClient, type: string): Promise<boolean> {
  return (await client.request(PauseTaskTypeDocument, { type })).pauseTaskType;
}

/** Resumes a paused task type. */
export async function resumeTaskType(client: ArchivistClient, type: string): Promise<boolean> {
  return (await client.request(ResumeTaskTypeDocument, { type })).resumeTaskType;
}
