// Package store holds the implementations of archivist.Store.
//
// For one node: Memory (throwaway, for tests and trials) and Bolt (the
// embedded, durable default: one bbolt file). Both share one engine that
// keeps every task in memory with the indexes placement needs; Bolt adds a
// group commit to the file, so a transition is acknowledged only once it is
// durable, and events are published only after that.
//
// For a cluster: Redis (standalone, Sentinel or Cluster through go-redis'
// UniversalClient). Every transition is one Lua script over keys that share
// one hash tag, and appends its events to a stream that each store instance
// tails into the same in-process bus.
//
// Open picks an embedded implementation from a --store value; OpenRedis
// opens a Redis one.
package store
