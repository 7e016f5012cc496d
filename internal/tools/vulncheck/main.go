// Command vulncheck runs govulncheck without vuln.go.dev: it builds the
// vulnerability database from the golang.org/x/vulndb module (which the Go
// module proxy serves) and judges govulncheck's JSON output. `make vulncheck`
// drives it; it uses only the standard library.
//
//	vulncheck db -vulndb golang.org/x/vulndb@VERSION -out DIR
//	vulncheck db -osv DIR -out DIR [-time RFC3339]
//	vulncheck report [-stdlib warn|fail] [-expect ID,...] FILE.json
//
// db writes the v1 layout that `govulncheck -db file:///DIR` reads
// (https://go.dev/security/vuln/database#api): index/db.json,
// index/modules.json, index/vulns.json and ID/<ID>.json, from the OSV files
// in the module's data/osv. It prints how old the data is.
//
// report reads the output of `govulncheck -format json`, prints the
// vulnerabilities that the code calls and those it only requires, and exits
// 1 when a called vulnerability is in a required module (always) or in the
// standard library (with -stdlib fail). With -expect it instead checks that
// each listed vulnerability was found called (the self-test).
package main

import (
	"fmt"
	"os"
)

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  vulncheck db -vulndb golang.org/x/vulndb@VERSION -out DIR
  vulncheck db -osv DIR -out DIR [-time RFC3339]
  vulncheck report [-stdlib warn|fail] [-expect ID,...] FILE.json
`)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "db":
		err = dbMain(os.Args[2:])
	case "report":
		var failed bool
		failed, err = reportMain(os.Args[2:], os.Stdout)
		if err == nil && failed {
			os.Exit(1)
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulncheck:", err)
		os.Exit(1)
	}
}
