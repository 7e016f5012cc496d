// Package discovery is cluster membership: how a node announces itself and
// learns of the others. Liveness always comes from heartbeats in the store:
// a node whose heartbeat is older than a few intervals is offline, whatever
// the discovery method.
package discovery
