package app

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfigFile: no config file, however broken, makes option parsing
// panic; it parses or it gives an error.
func FuzzConfigFile(f *testing.F) {
	for _, seed := range []string{
		"workers: 3\nstrategy: least-busy\n",
		"capabilities: [text.*, dice.simulate]\nheartbeat-interval: 500ms\n",
		"http: \"127.0.0.1:9000\"\nstore: memory\n",
		"workers: [1, 2]\n",
		"peers:\n  - a\n  - b\n",
		"{{{{",
		"workers: 99999999999999999999999\n",
		"\x00\xff: \xfe",
		"log-level: loud\n",
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		o, err := parseServe([]string{"--config", path}, func(string) string { return "" }, io.Discard)
		if err == nil && o == nil {
			t.Fatal("no options and no error")
		}
	})
}
