package graph

import (
	"strings"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/graph/model"
)

// nodeSettings turns updateNode's input into settings, refusing what the
// input allows but a setting cannot say (an empty name, 0 workers) with
// BAD_USER_INPUT; NodeSettings.Validate checks the rest.
func nodeSettings(in model.NodeInput) (archivist.NodeSettings, error) {
	var s archivist.NodeSettings
	if in.Name != nil {
		s.Name = strings.TrimSpace(*in.Name)
		if s.Name == "" {
			return s, archivist.Errorf(archivist.CodeBadUserInput, "name must not be empty")
		}
	}
	if in.Role != nil {
		s.Role = *in.Role
	}
	if in.Workers != nil {
		if *in.Workers < 1 || *in.Workers > archivist.MaxWorkers {
			return s, archivist.Errorf(archivist.CodeBadUserInput, "workers %d must be between 1 and %d", *in.Workers, archivist.MaxWorkers)
		}
		s.Workers = *in.Workers
	}
	if in.Capabilities != nil {
		s.Capabilities = make([]string, 0, len(in.Capabilities))
		for _, c := range in.Capabilities {
			s.Capabilities = append(s.Capabilities, strings.TrimSpace(c))
		}
	}
	if s.IsZero() {
		return s, archivist.Errorf(archivist.CodeBadUserInput, "nothing to change: give name, role, workers or capabilities")
	}
	return s, s.Validate()
}
