// Package dashboard serves the web dashboard that every node shows at /. The
// built assets live in dist/ and are embedded in the binary, so that go build
// alone gives a working dashboard.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed dist
var dist embed.FS

// Handler serves the embedded dashboard.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees dist exists
	}
	return http.FileServerFS(sub)
}
