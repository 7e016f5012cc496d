// Package archivist holds the domain model of Archivist, a distributed
// task-processing cluster: tasks, nodes, the cluster configuration, events,
// error codes and the small interfaces (Store, Handler) that the store,
// scheduler, worker pool, discovery and GraphQL layers meet on.
//
// The packages around it do not import each other; package app wires them
// into a node (app.Main) and a command line (app.Run), which cmd/archivist
// runs. The manual is in docs/ and the README.
package archivist
