// Nodes, the configuration, the caller's session, statistics and alerts.

import type { ArchivistClient, Unsubscribe } from './client.js';
import {
  AlertUpdatedDocument,
  AlertsDocument,
  ConfigDocument,
  ConfigUpdatedDocument,
  DrainNodeDocument,
  LeaderDocument,
  NodeDocument,
  NodeUpdatedDocument,
  NodesDocument,
  RemoveNodeDocument,
  ResumeNodeDocument,
  SessionDocument,
  StatsDocument,
  UpdateConfigDocument,
  UpdateNodeDocument,
  type AlertFieldsFragment,
  type ConfigFieldsFragment,
  type ConfigInput,
  type NodeFieldsFragment,
  type NodeInput,
  type SessionQuery,
  type StatsQuery,
  type StatsQueryVariables,
} from './generated/graphql.js';
import { watch, type WatchHandlers } from './watch.js';

/** A node of the cluster. */
export type Node = NodeFieldsFragment;
/** The cluster's runtime configuration. */
export type Config = ConfigFieldsFragment;
/** An alert of the node's rules. */
export type Alert = AlertFieldsFragment;
/** The caller's session: whether a key is needed, and the role of the one given. */
export type Session = SessionQuery['session'];
/** Statistics of a time window. */
export type ClusterStats = StatsQuery['stats'];

/** Every node the store knows, OFFLINE ones included. */
export async function listNodes(client: ArchivistClient): Promise<Node[]> {
  return (await client.request(NodesDocument)).nodes;
}

/** The node, or null when there is none with that id. */
export async function getNode(client: ArchivistClient, id: string): Promise<Node | null> {
  return (await client.request(NodeDocument, { id })).node;
}

/** The leader, or null while there is none. */
export async function getLeader(client: ArchivistClient): Promise<Node | null> {
  return (await client.request(LeaderDocument)).leader;
}

/** Drains a node: it takes no new task and finishes those it has. */
export async function drainNode(client: ArchivistClient, id: string): Promise<Node> {
  return (await client.request(DrainNodeDocument, { id })).drainNode;
}

/** Lets a drained node take tasks again. */
export async function resumeNode(client: ArchivistClient, id: string): Promise<Node> {
  return (await client.request(ResumeNodeDocument, { id })).resumeNode;
}

/** Changes a node's name, role, workers or capabilities (admin). */
export async function updateNode(client: ArchivistClient, id: string, input: NodeInput): Promise<Node> {
  return (await client.request(UpdateNodeDocument, { id, input })).updateNode;
}

/** Removes an OFFLINE node from the registry (admin). */
export async function removeNode(client: ArchivistClient, id: string): Promise<boolean> {
  return (await client.request(RemoveNodeDocument, { id })).removeNode;
}

/** Follows the nodes' heartbeats and changes (one node's when id is given); onResync: list them again. */
export function watchNodes(client: ArchivistClient, id: string | null, handlers: WatchHandlers<Node>): Unsubscribe {
  return watch(client, NodeUpdatedDocument, { id }, (r) => r.nodeUpdated, handlers);
}

/** The cluster's configuration. */
export async function getConfig(client: ArchivistClient): Promise<Config> {
  return (await client.request(ConfigDocument)).config;
}

/** Changes the given fields of the configuration (admin); the others keep their values. */
export async function updateConfig(client: ArchivistClient, input: ConfigInput): Promise<Config> {
  return (await client.request(UpdateConfigDocument, { input })).updateConfig;
}

/** Follows the configuration's changes; onResync: read it again. */
export function watchConfig(client: ArchivistClient, handlers: WatchHandlers<Config>): Unsubscribe {
  return watch(client, ConfigUpdatedDocument, undefined, (r) => r.configUpdated, handlers);
}

/** The caller's session (answered without a key). */
export async function getSession(client: ArchivistClient): Promise<Session> {
  return (await client.request(SessionDocument)).session;
}

/** Statistics of the last windowSeconds (default one hour), of one group when given. */
export async function getStats(client: ArchivistClient, options: StatsQueryVariables = {}): Promise<ClusterStats> {
  return (await client.request(StatsDocument, options)).stats;
}

/** The alerts firing now (and resolved ones with includeResolved). */
export async function listAlerts(client: ArchivistClient, includeResolved = false): Promise<Alert[]> {
  return (await client.request(AlertsDocument, { includeResolved })).alerts;
}

/** Follows alerts as they fire and resolve; onResync: list them again. */
export function watchAlerts(client: ArchivistClient, handlers: WatchHandlers<Alert>): Unsubscribe {
  return watch(client, AlertUpdatedDocument, undefined, (r) => r.alertUpdated, handlers);
}
