// Package archivist holds the domain model of Archivist, a distributed
// task-processing cluster: tasks, nodes, the cluster configuration, events,
// error codes and the small interfaces (Store, Handler) that the store,
// scheduler, worker pool, discovery and GraphQL layers meet on.
//
// The packages around it do not import each other; cmd/archivist wires them.
package archivist
