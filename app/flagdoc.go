package app

import (
	"flag"
	"io"
)

// ServeFlag describes one option of `archivist serve` for its reference
// table in docs/configuration.md, which internal/tools/flagdoc writes from
// these so that the table cannot drift from the flags.
type ServeFlag struct {
	Name    string // the flag, without dashes: heartbeat-interval
	Env     string // its environment twin: ARCHIVIST_HEARTBEAT_INTERVAL
	Default string // as `archivist serve -h` prints it; empty when none
	Usage   string
}

// docDefaults replaces defaults that depend on the machine that runs the
// generator, so that the table is the same on every machine.
var docDefaults = map[string]string{
	"workers": "max(4, runtime.NumCPU())",
}

// ServeFlags lists the options of `archivist serve` in name order, as
// `archivist serve -h` does.
func ServeFlags() []ServeFlag {
	var out []ServeFlag
	newServeFlags(&Options{}, io.Discard).VisitAll(func(f *flag.Flag) {
		def, ok := docDefaults[f.Name]
		if !ok {
			def = f.DefValue
		}
		out = append(out, ServeFlag{Name: f.Name, Env: envName(f.Name), Default: def, Usage: f.Usage})
	})
	return out
}
