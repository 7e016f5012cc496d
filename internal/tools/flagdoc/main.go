// Command flagdoc writes the reference table of `archivist serve`'s flags
// into docs/configuration.md, between the markers
//
//	<!-- flagdoc:begin -->
//	<!-- flagdoc:end -->
//
// from the flag definitions themselves (app.ServeFlags), so that the table
// cannot drift from the code: make flagdoc writes it, and make lint runs
// flagdoc -check, which fails when the committed table differs.
//
//	go run ./internal/tools/flagdoc [-check] [-file docs/configuration.md]
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/rpg-archivist/archivist/app"
)

const (
	beginMarker = "<!-- flagdoc:begin -->"
	endMarker   = "<!-- flagdoc:end -->"
)

func main() {
	file := flag.String("file", "docs/configuration.md", "the Markdown file that holds the table between its markers")
	check := flag.Bool("check", false, "write nothing; exit 1 if the table in -file differs from the flags")
	flag.Parse()
	if err := run(*file, *check); err != nil {
		fmt.Fprintln(os.Stderr, "flagdoc:", err)
		os.Exit(1)
	}
}

func run(file string, check bool) error {
	old, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	updated, err := splice(old, table(app.ServeFlags()))
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if bytes.Equal(old, updated) {
		return nil
	}
	if check {
		return fmt.Errorf("%s: the flag table differs from the flags of archivist serve (app/options.go): run make flagdoc and commit the result", file)
	}
	return os.WriteFile(file, updated, 0o644)
}

// splice puts body between the markers of doc, in place of what was there.
func splice(doc []byte, body string) ([]byte, error) {
	s := string(doc)
	i := strings.Index(s, beginMarker)
	j := strings.Index(s, endMarker)
	if i < 0 || j < i {
		return nil, errors.New("no " + beginMarker + " ... " + endMarker + " markers, in that order")
	}
	i += len(beginMarker)
	return []byte(s[:i] + "\n" + body + s[j:]), nil
}

// table renders the flags as a Markdown table.
func table(flags []app.ServeFlag) string {
	var b strings.Builder
	b.WriteString("<!-- Written by `make flagdoc` from app/options.go: edit the flags, not this table. -->\n\n")
	b.WriteString("| flag | environment variable | default | meaning |\n| --- | --- | --- | --- |\n")
	for _, f := range flags {
		def := "(none)"
		if d := shortDuration(f.Default); d != "" {
			def = "`" + d + "`"
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", f.Name, f.Env, def, escape(f.Usage))
	}
	return b.String()
}

// shortDuration drops the zero minutes and seconds a time.Duration prints
// (2m0s: 2m, 24h0m0s: 24h); other values pass unchanged.
func shortDuration(s string) string {
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// escape keeps a flag's usage text from breaking the table (|) or turning
// into emphasis (* in patterns such as text.*).
func escape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "\n", " ").Replace(s)
}
