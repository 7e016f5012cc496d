// The GraphQL documents of the dashboard. Only DistributedProcessingService
// uses them.

const NODE_FIELDS = `
  id name address role status capabilities taskTypes workers activeTasks isLeader admitted
  lastHeartbeat startedAt version discovery configVersion
  health { cpuPercent memoryPercent load1 load5 load15 sampledAt }
`;

const TASK_SUMMARY_FIELDS = `
  id type status priority error attempts failures maxRetries timeoutSeconds progress
  progressMessage nodeId cancelRequested createdAt updatedAt assignedAt startedAt completedAt runAt
  uniqueKey schedule workflowId stepKey group
  heldBy
`;

const TASK_DETAIL_FIELDS = `
  ${TASK_SUMMARY_FIELDS}
  input result metadata retryBackoffMs maxBackoffMs uniqueForSeconds duplicate traceId
  node { id name address }
  workflow { id name status }
`;

const CONFIG_FIELDS = `
  version enabled discovery peers heartbeatIntervalMs missedHeartbeats defaultTimeoutSeconds
  defaultMaxRetries strategy faultTolerance thresholds { cpuPercent memoryPercent load1 }
  workers retentionSeconds retryBackoffMs maxBackoffMs updatedAt
`;

const ALERT_FIELDS = `id rule subject severity status message value startedAt resolvedAt`;

export const SNAPSHOT_QUERY = `
  query DashboardSnapshot {
    nodes { ${NODE_FIELDS} }
    leader { id }
    config { ${CONFIG_FIELDS} }
    taskTypes
    taskCounts { status count }
    recentFailures: tasks(filter: { status: [FAILED, TIMED_OUT] }, first: 10) {
      edges { node { ${TASK_SUMMARY_FIELDS} } }
    }
    alerts(includeResolved: true) { ${ALERT_FIELDS} }
  }
`;

export const NODES_QUERY = `query Nodes { nodes { ${NODE_FIELDS} } }`;

export const TASK_COUNTS_QUERY = `query TaskCounts { taskCounts { status count } }`;

export const TASK_GROUPS_QUERY = `
  query TaskGroups($first: Int) { taskGroups(first: $first) { group unfinished total counts { status count } } }
`;

export const TASKS_QUERY = `
  query Tasks($filter: TaskFilter, $first: Int, $after: String) {
    tasks(filter: $filter, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { ${TASK_SUMMARY_FIELDS} } }
    }
  }
`;

export const TASK_QUERY = `query Task($id: ID!) { task(id: $id) { ${TASK_DETAIL_FIELDS} } }`;

export const SUBMIT_TASK = `
  mutation SubmitTask($input: SubmitTaskInput!) { submitTask(input: $input) { ${TASK_DETAIL_FIELDS} } }
`;

export const CANCEL_TASK = `mutation CancelTask($id: ID!) { cancelTask(id: $id) { ${TASK_DETAIL_FIELDS} } }`;

export const RETRY_TASK = `mutation RetryTask($id: ID!) { retryTask(id: $id) { ${TASK_DETAIL_FIELDS} } }`;

export const COUNT_TASKS = `query CountTasks($filter: TaskFilter) { tasks(filter: $filter, first: 0) { totalCount } }`;

/** The bulk mutations (graph/flow.graphqls), each returning how many tasks it changed. */
export const BULK_TASKS = {
  cancel: `mutation CancelTasks($filter: TaskFilter!) { cancelTasks(filter: $filter) }`,
  retry: `mutation RetryTasks($filter: TaskFilter!) { retryTasks(filter: $filter) }`,
  delete: `mutation DeleteTasks($filter: TaskFilter!) { deleteTasks(filter: $filter) }`,
} as const;

export const DRAIN_NODE = `mutation DrainNode($id: ID!) { drainNode(id: $id) { ${NODE_FIELDS} } }`;

export const RESUME_NODE = `mutation ResumeNode($id: ID!) { resumeNode(id: $id) { ${NODE_FIELDS} } }`;

export const REMOVE_NODE = `mutation RemoveNode($id: ID!) { removeNode(id: $id) }`;

export const UPDATE_NODE = `
  mutation UpdateNode($id: ID!, $input: NodeInput!) { updateNode(id: $id, input: $input) { ${NODE_FIELDS} } }
`;

export const UPDATE_CONFIG = `
  mutation UpdateConfig($input: ConfigInput!) { updateConfig(input: $input) { ${CONFIG_FIELDS} } }
`;

export const TASK_UPDATED = `subscription TaskFeed { taskUpdated { ${TASK_SUMMARY_FIELDS} } }`;

// current: true: the task as it is when the subscription opens comes first
// (then each change), so nothing falls between the view's read and its feed.
export const ONE_TASK_UPDATED = `subscription OneTask($id: ID!) { taskUpdated(id: $id, current: true) { ${TASK_DETAIL_FIELDS} } }`;

export const NODE_UPDATED = `subscription NodeFeed { nodeUpdated { ${NODE_FIELDS} } }`;

export const CONFIG_UPDATED = `subscription ConfigFeed { configUpdated { ${CONFIG_FIELDS} } }`;

export const ALERT_UPDATED = `subscription AlertFeed { alertUpdated { ${ALERT_FIELDS} } }`;

/** The caller's session: answered without a key when asked alone, so it comes first. */
export const SESSION_QUERY = `query Session { session { authRequired authenticated role insecure tls warnings } }`;

const STATS_POINT = `at submitted completed failed waitP50Ms waitP95Ms runP50Ms runP95Ms`;

/**
 * The overview's statistics: the chosen window (default buckets), of one group when $group is given, and the
 * cluster's last minute.
 */
export const STATS_QUERY = `
  query OverviewStats($window: Int, $group: String) {
    stats(windowSeconds: $window, group: $group) {
      windowSeconds bucketSeconds from to
      series { ${STATS_POINT} }
      total { ${STATS_POINT} }
      byType { type completed failed waitP95Ms runP95Ms }
      byNode { nodeId completed failed busySeconds workerSeconds utilization }
      byGroup { group submitted completed failed waitP95Ms runP95Ms }
    }
    recent: stats(windowSeconds: 60, bucketSeconds: 10) { from to total { ${STATS_POINT} } }
  }
`;

const SCHEDULE_FIELDS = `
  name cron every timezone overlap misfire paused nextRunAt lastRunAt createdAt updatedAt
  task {
    type input priority timeoutSeconds maxRetries metadata retryBackoffMs maxBackoffMs uniqueKey uniqueForSeconds
    onDuplicate
  }
  lastTask { id status createdAt }
`;

export const SCHEDULES_QUERY = `query Schedules { schedules { ${SCHEDULE_FIELDS} } }`;

export const SCHEDULE_QUERY = `query Schedule($name: String!) { schedule(name: $name) { ${SCHEDULE_FIELDS} } }`;

export const CREATE_SCHEDULE = `
  mutation CreateSchedule($input: ScheduleInput!) { createSchedule(input: $input) { ${SCHEDULE_FIELDS} } }
`;

export const UPDATE_SCHEDULE = `
  mutation UpdateSchedule($input: ScheduleInput!) { updateSchedule(input: $input) { ${SCHEDULE_FIELDS} } }
`;

export const PAUSE_SCHEDULE = `mutation PauseSchedule($name: String!) { pauseSchedule(name: $name) { ${SCHEDULE_FIELDS} } }`;

export const RESUME_SCHEDULE = `mutation ResumeSchedule($name: String!) { resumeSchedule(name: $name) { ${SCHEDULE_FIELDS} } }`;

export const DELETE_SCHEDULE = `mutation DeleteSchedule($name: String!) { deleteSchedule(name: $name) }`;

export const TRIGGER_SCHEDULE = `
  mutation TriggerSchedule($name: String!) { triggerSchedule(name: $name) { ${TASK_SUMMARY_FIELDS} } }
`;

export const SCHEDULE_UPDATED = `subscription ScheduleFeed { scheduleUpdated { ${SCHEDULE_FIELDS} } }`;

// A workflow's own fields: what the list shows and workflowUpdated carries
// (its steps are not asked for there: the graph follows them through the
// task feed, and loads them again when their number changes).
const WORKFLOW_FIELDS = `
  id name status onFailure group progress stepCount error metadata createdAt updatedAt completedAt
`;

export const WORKFLOWS_QUERY = `
  query Workflows($filter: WorkflowFilter, $first: Int, $after: String) {
    workflows(filter: $filter, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { ${WORKFLOW_FIELDS} } }
    }
  }
`;

export const WORKFLOW_QUERY = `
  query Workflow($id: ID!) {
    workflow(id: $id) {
      ${WORKFLOW_FIELDS}
      steps { key dependsOn addedBy task { ${TASK_SUMMARY_FIELDS} } }
    }
  }
`;

export const SUBMIT_WORKFLOW = `
  mutation SubmitWorkflow($input: WorkflowInput!) { submitWorkflow(input: $input) { ${WORKFLOW_FIELDS} } }
`;

export const CANCEL_WORKFLOW = `mutation CancelWorkflow($id: ID!) { cancelWorkflow(id: $id) { ${WORKFLOW_FIELDS} } }`;

export const RETRY_WORKFLOW = `mutation RetryWorkflow($id: ID!) { retryWorkflow(id: $id) { ${WORKFLOW_FIELDS} } }`;

export const WORKFLOW_UPDATED = `subscription WorkflowFeed($id: ID!) { workflowUpdated(id: $id) { ${WORKFLOW_FIELDS} } }`;

const LIMIT_FIELDS = `
  id taskType group maxConcurrent ratePerSecond burst running held groups { group running held } createdAt updatedAt
`;

/** The limits page: the limits with their use, and the task types with whether each is paused. */
export const FLOW_CONTROL_QUERY = `query FlowControl { limits { ${LIMIT_FIELDS} } taskTypeStates { type paused } }`;

export const SET_LIMIT = `mutation SetLimit($input: LimitInput!) { setLimit(input: $input) { ${LIMIT_FIELDS} } }`;

export const DELETE_LIMIT = `mutation DeleteLimit($id: ID!) { deleteLimit(id: $id) }`;

export const PAUSE_TASK_TYPE = `mutation PauseTaskType($type: String!) { pauseTaskType(type: $type) }`;

export const RESUME_TASK_TYPE = `mutation ResumeTaskType($type: String!) { resumeTaskType(type: $type) }`;
