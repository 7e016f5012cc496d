package server

import (
	"net/http"

	"github.com/rpg-archivist/archivist/dashboard"
)

// playgroundHandler serves GraphiQL at /playground: a page of the embedded
// dashboard build (dashboard/src/playground), with GraphiQL, React, the
// editor's workers and fonts bundled in the binary, so that it works on a
// machine without internet access. The page takes the API key the dashboard
// keeps in this tab's sessionStorage and sends it as the Authorization
// header with every request and in connection_init of every subscription;
// headers typed in GraphiQL's editor go on top and are not written to
// localStorage. A line above GraphiQL says whether the node needs a key and
// how to sign in.
func playgroundHandler() http.Handler {
	return dashboard.Playground()
}
