package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rpg-archivist/archivist"
)

// DefaultBoltPath is where the embedded store lives when --store names no
// file: archivist/archivist.db under the user's data folder
// ($XDG_DATA_HOME, else ~/.local/share), or ./archivist.db without a home.
func DefaultBoltPath() string {
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".local", "share")
		}
	}
	if dir == "" {
		return "archivist.db"
	}
	return filepath.Join(dir, "archivist", "archivist.db")
}

// Open returns the store a --store value names:
//
//	""  or "bolt"       the embedded store at DefaultBoltPath
//	"bolt:PATH"         the embedded store in the file PATH
//	"memory"            an in-memory store, gone at exit
//
// Redis URLs are opened by the redis store package, not here.
func Open(spec string, opts Options) (archivist.Store, error) {
	switch {
	case spec == "" || spec == "bolt":
		return OpenBolt(DefaultBoltPath(), opts)
	case strings.HasPrefix(spec, "bolt:"):
		path := strings.TrimPrefix(spec, "bolt:")
		if path == "" {
			return nil, fmt.Errorf("--store bolt: needs a file path, as in bolt:/var/lib/archivist/archivist.db")
		}
		return OpenBolt(path, opts)
	case spec == "memory":
		return NewMemory(opts), nil
	}
	return nil, fmt.Errorf("unknown --store %q: use bolt:PATH (embedded, the default), memory, or a redis:// URL", spec)
}
