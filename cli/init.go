package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
)

const configInitHelp = `Usage: archivist config init [--file PATH] [--force]

Writes a commented config file for archivist serve --config, with every
setting at its default: uncomment and change what you need. Precedence:
flag > environment (ARCHIVIST_*) > file > default.
`

// configInit writes the default config file, configFile's text.
func configInit(args []string, stdout, stderr io.Writer, configFile func() string) int {
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
	text := configFile()
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
