package store

import (
	"context"

	"github.com/rpg-archivist/archivist"
)

// NodeSettings returns the settings kept for node id.
func (e *engine) NodeSettings(ctx context.Context, id string) (archivist.NodeSettings, error) {
	var out archivist.NodeSettings
	err := e.view(func() error {
		out = e.settings[id].Clone()
		return nil
	})
	return out, err
}

// SetNodeSettings merges s into node id's settings and applies them to its
// description.
func (e *engine) SetNodeSettings(ctx context.Context, id string, s archivist.NodeSettings) (*archivist.Node, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var out *archivist.Node
	err := e.update(ctx, func(tx *tx) error {
		old, ok := e.nodes[id]
		if !ok {
			return notFound("node", id)
		}
		merged := e.settings[id].Merge(s)
		merged.UpdatedAt = tx.now
		tx.putSettings(id, merged)
		n := old.Clone()
		merged.ApplyTo(n)
		tx.putNode(n)
		tx.nodeEvent(archivist.EventNodeUpdated, n, archivist.NodeSettingsDetail)
		out = n.Clone()
		return nil
	})
	return out, err
}

func (tx *tx) putSettings(id string, s archivist.NodeSettings) {
	tx.e.settings[id] = s
	if tx.b.settings == nil {
		tx.b.settings = map[string]archivist.NodeSettings{}
	}
	tx.b.settings[id] = s.Clone()
}
