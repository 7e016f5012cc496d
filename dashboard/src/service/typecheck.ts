// The dashboard's types (types.ts) checked against what its documents
// (operations.ts) return by the schema (generated.ts, from
// clients/typescript/scripts/generate.mjs): each line fails to compile
// when a result no longer fits the type the views read, so that a schema
// or document change that breaks the dashboard breaks its build, not a
// screen. Nothing here runs.

import type * as G from './generated';
import type {
  Alert,
  DistributedProcessingConfig,
  Limit,
  OverviewStats,
  ProcessingNode,
  Schedule,
  TaskCount,
  TaskDetail,
  TaskGroup,
  TaskSummary,
  TaskTypeState,
  Workflow,
  WorkflowSummary,
} from './types';
import type { Session } from '../lib/auth';

/** Compiles only when Result can be used as Type. */
type Fits<Type, Result extends Type> = Result;

type Item<T> = T extends readonly (infer U)[] ? U : never;

export type DashboardTypesFitTheirResults = [
  Fits<TaskDetail, NonNullable<G.TaskQuery['task']>>,
  Fits<TaskDetail, G.SubmitTaskMutation['submitTask']>,
  Fits<TaskDetail, G.CancelTaskMutation['cancelTask']>,
  Fits<TaskDetail, G.OneTaskSubscription['taskUpdated']>,
  Fits<TaskSummary, Item<G.TasksQuery['tasks']['edges']>['node']>,
  Fits<TaskSummary, G.TaskFeedSubscription['taskUpdated']>,
  Fits<TaskSummary, G.TriggerScheduleMutation['triggerSchedule']>,
  Fits<ProcessingNode, Item<G.NodesQuery['nodes']>>,
  Fits<ProcessingNode, G.NodeFeedSubscription['nodeUpdated']>,
  Fits<ProcessingNode, G.UpdateNodeMutation['updateNode']>,
  Fits<DistributedProcessingConfig, G.ConfigFeedSubscription['configUpdated']>,
  Fits<DistributedProcessingConfig, G.UpdateConfigMutation['updateConfig']>,
  Fits<Alert, G.AlertFeedSubscription['alertUpdated']>,
  Fits<TaskCount, Item<G.TaskCountsQuery['taskCounts']>>,
  Fits<TaskGroup, Item<G.TaskGroupsQuery['taskGroups']>>,
  Fits<OverviewStats, G.OverviewStatsQuery>,
  Fits<Schedule, Item<G.SchedulesQuery['schedules']>>,
  Fits<Schedule, G.ScheduleFeedSubscription['scheduleUpdated']>,
  Fits<WorkflowSummary, Item<G.WorkflowsQuery['workflows']['edges']>['node']>,
  Fits<WorkflowSummary, G.WorkflowFeedSubscription['workflowUpdated']>,
  Fits<Workflow, NonNullable<G.WorkflowQuery['workflow']>>,
  Fits<Limit, Item<G.FlowControlQuery['limits']>>,
  Fits<TaskTypeState, Item<G.FlowControlQuery['taskTypeStates']>>,
  Fits<Session, G.SessionQuery['session']>,
];
