// Package scheduler is the leader's side of Archivist: an Elector that holds
// leadership through the store, and a Scheduler that, while this node leads,
// places ready tasks on nodes by strategy, takes back expired leases, puts
// back the tasks of lost nodes and purges finished tasks past retention.
//
// Placement itself (Place) is a pure function so that strategies can be
// tested against any set of simulated nodes.
package scheduler
