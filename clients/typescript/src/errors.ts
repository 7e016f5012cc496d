// Errors of the API, as the client throws them.

import type { TaskFieldsFragment } from './generated/graphql.js';

/**
 * The codes the API puts in an error's extensions.code. The list is open:
 * a newer server may send one this client does not know, which comes
 * through as it is.
 */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'CONFLICT'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'RATE_LIMITED'
  | 'TOO_MANY_CONNECTIONS'
  | 'TOO_MANY_SUBSCRIPTIONS'
  | 'RESPONSE_TOO_LARGE'
  | 'GRAPHQL_PARSE_FAILED'
  | 'GRAPHQL_VALIDATION_FAILED'
  | 'DEPTH_LIMIT_EXCEEDED'
  | 'COMPLEXITY_LIMIT_EXCEEDED'
  | 'PERSISTED_QUERY_NOT_FOUND'
  /** Not the API's: the node could not be reached, or did not answer with GraphQL. */
  | 'NETWORK_ERROR'
  | (string & {});

/** One error of a GraphQL response. */
export interface GraphQLErrorEntry {
  message: string;
  path?: ReadonlyArray<string | number>;
  locations?: ReadonlyArray<{ line: number; column: number }>;
  extensions?: Record<string, unknown>;
}

/**
 * An error the API answered with (a GraphQL error, over HTTP or a
 * WebSocket), or NETWORK_ERROR when there was no answer. code is the first
 * error's extensions.code; errors holds them all.
 */
export class ArchivistError extends Error {
  readonly code: ErrorCode;
  readonly errors: readonly GraphQLErrorEntry[];
  /** The HTTP status, for an error answered over HTTP. */
  readonly status: number | undefined;
  /** For RATE_LIMITED and TOO_MANY_CONNECTIONS: seconds to wait before trying again, when the node said. */
  readonly retryAfter: number | undefined;

  constructor(
    message: string,
    code: ErrorCode,
    options: { errors?: readonly GraphQLErrorEntry[]; status?: number; retryAfter?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ArchivistError';
    this.code = code;
    this.errors = options.errors ?? [];
    this.status = options.status;
    this.retryAfter = options.retryAfter;
  }

  /** Builds the error of a GraphQL response's errors. */
  static fromGraphQL(errors: readonly GraphQLErrorEntry[], status?: number, retryAfter?: number): ArchivistError {
    const first = errors[0];
    const code = typeof first?.extensions?.code === 'string' ? first.extensions.code : 'INTERNAL';
    const retry = first?.extensions?.retryAfter;
    return new ArchivistError(first?.message ?? 'the request failed', code, {
      errors,
      status,
      retryAfter: typeof retry === 'number' ? retry : retryAfter,
    });
  }
}

/** The node could not be reached (or closed the connection, or answered with something else than GraphQL). */
export class NetworkError extends ArchivistError {
  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, 'NETWORK_ERROR', options);
    this.name = 'NetworkError';
  }
}

/** waitForTask's error for a task that finished without a result: FAILED, TIMED_OUT or CANCELLED. */
export class TaskFailedError extends Error {
  readonly task: TaskFieldsFragment;

  constructor(task: TaskFieldsFragment) {
    super(`task ${task.id} (${task.type}) ended ${task.status}${task.error ? `: ${task.error}` : ''}`);
    this.name = 'TaskFailedError';
    this.task = task;
  }
}

/** Whether err is an ArchivistError with one of the codes. */
export function isErrorCode(err: unknown, ...codes: ErrorCode[]): err is ArchivistError {
  return err instanceof ArchivistError && codes.includes(err.code);
}
