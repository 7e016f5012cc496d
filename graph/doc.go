// Package graph is Archivist's GraphQL API: the schema (*.graphqls), the
// code gqlgen generates from it (generated.go, model/models_gen.go; never
// edited by hand), the resolvers (*.resolvers.go, one file per schema file)
// and NewHandler, which serves it over POST, GET and WebSocket.
//
// The domain types of the root package are bound directly (see gqlgen.yml):
// DistributedTask is archivist.Task, ProcessingNode is archivist.Node, and so
// on; field resolvers cover the fields whose type or nullability differs.
// Resolvers reach the store, the registry and the event feed only through
// Resolver. Errors reach clients only through the error presenter, which
// gives each an extensions.code and hides internal ones.
//
// Regenerate with `go generate ./graph` (or `go tool gqlgen generate` at the
// repository root).
package graph
