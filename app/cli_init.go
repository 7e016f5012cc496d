package app

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const configInitHelp = `Usage: archivist config init [--file PATH] [--force]

Writes a commented config file for archivist serve --config, with every
setting at its default: uncomment and change what you need. Precedence:
flag > environment (ARCHIVIST_*) > file > default.
`

// configInit writes the default config file.
func configInit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("config init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("file", "", "where to write it (default: standard output)")
	force := fs.Bool("force", false, "overwrite an existing file")
	fs.Usage = func() { fmt.Fprint(stderr, configInitHelp); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	text := defaultConfigFile()
	if *path == "" {
		fmt.Fprint(stdout, text)
		return 0
	}
	mode := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if *force {
		mode = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(*path, mode, 0o600)
	if err != nil {
		if os.IsExist(err) {
			fmt.Fprintf(stderr, "archivist config init: %s exists; --force overwrites it\n", *path)
		} else {
			fmt.Fprintf(stderr, "archivist config init: %v\n", err)
		}
		return 1
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "archivist config init: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "wrote %s; run archivist serve --config %s\n", *path, *path)
	return 0
}

// defaultConfigFile is every serve option as a commented-out YAML key with
// its default, described by its help text.
func defaultConfigFile() string {
	var b strings.Builder
	b.WriteString("# Archivist node configuration: archivist serve --config this-file\n")
	b.WriteString("# Keys are the flags of archivist serve. Precedence: flag > ARCHIVIST_* environment > this file > default.\n")
	b.WriteString("# Every key below shows its default; uncomment the ones you change.\n")
	fs := newServeFlags(&Options{}, io.Discard)
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" {
			return
		}
		fmt.Fprintf(&b, "\n# %s\n", f.Usage)
		v := f.DefValue
		switch {
		case v == "":
			fmt.Fprintf(&b, "# %s:\n", f.Name)
		case strings.ContainsAny(v, ":#{}[],&*!|>'\"%@`") || v != strings.TrimSpace(v):
			fmt.Fprintf(&b, "# %s: %q\n", f.Name, v)
		default:
			fmt.Fprintf(&b, "# %s: %s\n", f.Name, v)
		}
	})
	return b.String()
}
