// Package store holds the implementations of archivist.Store for one node:
// Memory (throwaway, for tests and trials) and Bolt (the embedded, durable
// default: one bbolt file). Both share one engine that keeps every task in
// memory with the indexes placement needs; Bolt adds a write-ahead group
// commit to the file, so a transition is acknowledged only once it is
// durable, and events are published only after that.
//
// Open picks an implementation from a --store value.
package store
