package main

import (
	"strings"
	"testing"

	"github.com/rpg-archivist/archivist/app"
)

// TestCommittedTable fails when docs/configuration.md's flag table is not
// what make flagdoc writes, as make lint does, so that make test catches
// the drift too.
func TestCommittedTable(t *testing.T) {
	if err := run("../../../docs/configuration.md", true); err != nil {
		t.Fatal(err)
	}
}

func TestSplice(t *testing.T) {
	doc := "intro\n" + beginMarker + "\nold table\n" + endMarker + "\nrest\n"
	got, err := splice([]byte(doc), "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "intro\n" + beginMarker + "\nnew table\n" + endMarker + "\nrest\n"
	if string(got) != want {
		t.Errorf("splice:\n%s\nwant:\n%s", got, want)
	}
	if _, err := splice([]byte(endMarker+beginMarker), "x"); err == nil {
		t.Error("splice accepted markers in the wrong order")
	}
}

func TestTable(t *testing.T) {
	got := table([]app.ServeFlag{
		{Name: "retention", Env: "ARCHIVIST_RETENTION", Default: "24h0m0s", Usage: "how long"},
		{Name: "capabilities", Env: "ARCHIVIST_CAPABILITIES", Usage: "types | patterns like text.*"},
	})
	for _, want := range []string{
		"| `--retention` | `ARCHIVIST_RETENTION` | `24h` | how long |",
		"| `--capabilities` | `ARCHIVIST_CAPABILITIES` | (none) | types \\| patterns like text.\\* |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}

// TestServeFlags checks that the hook lists every flag with its
// environment twin, and that no default depends on the machine.
func TestServeFlags(t *testing.T) {
	flags := app.ServeFlags()
	byName := map[string]app.ServeFlag{}
	for _, f := range flags {
		byName[f.Name] = f
	}
	if f := byName["heartbeat-interval"]; f.Env != "ARCHIVIST_HEARTBEAT_INTERVAL" || f.Default != "1s" {
		t.Errorf("heartbeat-interval: %+v", f)
	}
	if f := byName["workers"]; strings.ContainsAny(f.Default, "0123456789") && !strings.Contains(f.Default, "NumCPU") {
		t.Errorf("workers default %q depends on the machine", f.Default)
	}
}
