// Command profnode is archivist with net/http/pprof on BENCH_PPROF (a
// host:port), for profiling a node under the benchmark:
//
//	go build -o /tmp/profnode ./bench/profnode
//	BENCH_PPROF=127.0.0.1:6060 go run ./bench -archivist /tmp/profnode -only drain -n 100000
//	go tool pprof -top http://127.0.0.1:6060/debug/pprof/profile?seconds=10
package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"

	"github.com/rpg-archivist/archivist/app"
)

func main() {
	if addr := os.Getenv("BENCH_PPROF"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
	os.Exit(app.Run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
