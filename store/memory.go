package store

import "github.com/rpg-archivist/archivist"

// Memory is an archivist.Store that keeps everything in memory: fast, and
// gone with the process. For tests and throwaway runs.
type Memory struct{ *engine }

var _ archivist.Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory(opts Options) *Memory {
	e := newEngine(opts, nil)
	e.finishLoad()
	return &Memory{e}
}

// Close releases the store; later calls fail.
func (m *Memory) Close() error { return m.engine.close() }
