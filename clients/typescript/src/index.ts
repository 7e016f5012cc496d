// @rpg-archivist/client: a typed client of Archivist's GraphQL API.
//
// Every call is a function of a client (createClient), so that a bundle
// holds only the calls it imports.

export {
  ArchivistClient,
  backoffDelay,
  createClient,
  subscriptionError,
  typedDocument,
  type ClientOptions,
  type ConnectionPhase,
  type ConnectionState,
  type Sink,
  type TypedDocument,
  type Unsubscribe,
} from './client.js';
export { ArchivistError, NetworkError, TaskFailedError, isErrorCode, type ErrorCode, type GraphQLErrorEntry } from './errors.js';
export * from './tasks.js';
export * from './cluster.js';
export * from './schedules.js';
export * from './workflows.js';
export * from './flow.js';
export { isFinalError, watch, type WatchHandlers } from './watch.js';
/** The typed documents and every generated type, for requests of your own (client.request). */
export * from './generated/graphql.js';
