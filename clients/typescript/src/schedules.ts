// Recurring tasks.

import type { ArchivistClient, Unsubscribe } from './client.js';
import {
  CreateScheduleDocument,
  DeleteScheduleDocument,
  PauseScheduleDocument,
  ResumeScheduleDocument,
  ScheduleDocument,
  ScheduleUpdatedDocument,
  SchedulesDocument,
  TriggerScheduleDocument,
  UpdateScheduleDocument,
  type ScheduleFieldsFragment,
  type ScheduleInput,
} from './generated/graphql.js';
import type { Task } from './tasks.js';
import { watch, type WatchHandlers } from './watch.js';

/** A schedule: a task submitted on a cron expression or every interval. */
export type Schedule = ScheduleFieldsFragment;

/** Every schedule. */
export async function listSchedules(client: ArchivistClient): Promise<Schedule[]> {
  return (await client.request(SchedulesDocument)).schedules;
}

/** The schedule, or null when there is none of that name. */
export async function getSchedule(client: ArchivistClient, name: string): Promise<Schedule | null> {
  return (await client.request(ScheduleDocument, { name })).schedule;
}

/** Creates a schedule (BAD_USER_INPUT for a bad cron expression, CONFLICT for a name taken). */
export async function createSchedule(client: ArchivistClient, input: ScheduleInput): Promise<Schedule> {
  return (await client.request(CreateScheduleDocument, { input })).createSchedule;
}

/** Replaces the definition of the schedule named input.name. */
export async function updateSchedule(client: ArchivistClient, input: ScheduleInput): Promise<Schedule> {
  return (await client.request(UpdateScheduleDocument, { input })).updateSchedule;
}

/** Pauses a schedule: it submits nothing until resumed. */
export async function pauseSchedule(client: ArchivistClient, name: string): Promise<Schedule> {
  return (await client.request(PauseScheduleDocument, { name })).pauseSchedule;
}

/** Resumes a paused schedule. */
export async function resumeSchedule(client: ArchivistClient, name: string): Promise<Schedule> {
  return (await client.request(ResumeScheduleDocument, { name })).resumeSchedule;
}

/** Deletes a schedule (its tasks stay). */
export async function deleteSchedule(client: ArchivistClient, name: string): Promise<boolean> {
  return (await client.request(DeleteScheduleDocument, { name })).deleteSchedule;
}

/** Submits the schedule's task now, outside its timetable. */
export async function triggerSchedule(client: ArchivistClient, name: string): Promise<Task> {
  return (await client.request(TriggerScheduleDocument, { name })).triggerSchedule;
}

/** Follows the schedules' changes (one schedule's when name is given); onResync: list them again. */
export function watchSchedules(client: ArchivistClient, name: string | null, handlers: WatchHandlers<Schedule>): Unsubscribe {
  return watch(client, ScheduleUpdatedDocument, { name }, (r) => r.scheduleUpdated, handlers);
}
