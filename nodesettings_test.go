package archivist_test

import (
	"strings"
	"testing"

	"github.com/rpg-archivist/archivist"
)

func TestNodeSettingsMergeAndApply(t *testing.T) {
	t.Parallel()
	base := archivist.NodeSettings{Name: "a", Role: archivist.RoleHybrid, Workers: 4, Capabilities: []string{"echo"}}
	got := base.Merge(archivist.NodeSettings{Workers: 8})
	if got.Name != "a" || got.Role != archivist.RoleHybrid || got.Workers != 8 || len(got.Capabilities) != 1 {
		t.Fatalf("merge of workers: %+v", got)
	}
	got = got.Merge(archivist.NodeSettings{Capabilities: []string{}})
	if got.Capabilities == nil || len(got.Capabilities) != 0 || got.Clone().Capabilities == nil {
		t.Fatalf("an empty capability list must stay a setting (not nil): %+v", got)
	}
	if (archivist.NodeSettings{}).Merge(archivist.NodeSettings{}).IsZero() != true {
		t.Fatal("merging nothing sets something")
	}
	n := &archivist.Node{Role: archivist.RoleHybrid, Workers: 2, Capabilities: []string{"x"}}
	archivist.NodeSettings{Role: archivist.RoleMaster, Workers: 9}.ApplyTo(n)
	if n.Role != archivist.RoleMaster || n.Workers != 2 {
		t.Fatalf("a MASTER takes no worker count: %+v", n)
	}
	archivist.NodeSettings{Role: archivist.RoleWorker, Workers: 9, Capabilities: []string{}}.ApplyTo(n)
	if n.Role != archivist.RoleWorker || n.Workers != 9 || len(n.Capabilities) != 0 {
		t.Fatalf("apply: %+v", n)
	}
}

func TestNodeSettingsValidate(t *testing.T) {
	t.Parallel()
	good := []archivist.NodeSettings{
		{}, {Workers: 1}, {Workers: archivist.MaxWorkers}, {Role: archivist.RoleWorker},
		{Name: "scribe ✍"}, {Capabilities: []string{"*", "text.*", "dice.simulate", "a?c", "[ab]x"}},
	}
	for _, s := range good {
		if err := s.Validate(); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
	bad := []archivist.NodeSettings{
		{Workers: -1}, {Workers: archivist.MaxWorkers + 1}, {Role: "BOSS"}, {Name: "a\nb"},
		{Name: strings.Repeat("é", archivist.MaxNodeNameLength+1)},
		{Capabilities: []string{""}}, {Capabilities: []string{"a,b"}}, {Capabilities: []string{"a b"}},
		{Capabilities: []string{"[a"}}, {Capabilities: []string{strings.Repeat("x", 201)}},
		{Capabilities: make([]string, archivist.MaxCapabilities+1)},
	}
	for _, s := range bad {
		err := s.Validate()
		if !archivist.IsCode(err, archivist.CodeBadUserInput) {
			t.Errorf("%+v: %v, want BAD_USER_INPUT", s, err)
		}
	}
}
