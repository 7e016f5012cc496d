package store_test

import (
	"path/filepath"
	"testing"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/store"
	"github.com/rpg-archivist/archivist/store/storetest"
)

func TestMemory(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) archivist.Store {
		s := store.NewMemory(store.Options{})
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestBolt(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) archivist.Store {
		s, err := store.OpenBolt(filepath.Join(t.TempDir(), "archivist.db"), store.Options{})
		if err != nil {
			t.Fatalf("OpenBolt: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	})
}
