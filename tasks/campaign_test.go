package tasks

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	archivist "github.com/rpg-archivist/archivist"
)

// stepJob is a job of a workflow step with its parents' results.
func stepJob(input string, parents map[string]json.RawMessage) *archivist.Job {
	j := newJob(input, 1, nil)
	j.Task.WorkflowID, j.Task.StepKey = "w1", "merge"
	j.SetParentResults(func(context.Context) (map[string]json.RawMessage, error) { return parents, nil })
	return j
}

// runOn runs a handler on text and returns its result.
func runOn(t *testing.T, h archivist.Handler, input string) json.RawMessage {
	t.Helper()
	raw, err := h.Handle(context.Background(), newJob(input, 1, nil))
	if err != nil {
		t.Fatalf("%T: %v", h, err)
	}
	return raw
}

func TestCampaignMerge(t *testing.T) {
	t.Parallel()
	notes, err := os.ReadFile("testdata/session-notes.md")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := json.Marshal(map[string]string{"text": string(notes)})
	other, _ := json.Marshal(map[string]string{"text": "Lady Elowen Varr returned to Thornwall Keep with the dragon's egg."})
	parents := map[string]json.RawMessage{
		"index":     runOn(t, IndexHandler{}, string(text)),
		"entities":  runOn(t, EntitiesHandler{}, string(text)),
		"summary":   runOn(t, SummarizeHandler{}, string(text)),
		"index2":    runOn(t, IndexHandler{}, string(other)),
		"entities2": runOn(t, EntitiesHandler{}, string(other)),
		"noise":     json.RawMessage(`{"sleptMs": 10}`),
	}
	raw, err := CampaignMergeHandler{}.Handle(context.Background(), stepJob(`{"name": "Tomb"}`, parents))
	if err != nil {
		t.Fatal(err)
	}
	var idx CampaignIndex
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	if idx.Name != "Tomb" || !slices.Equal(idx.Sources, []string{"entities", "entities2", "index", "index2", "summary"}) ||
		!slices.Equal(idx.Ignored, []string{"noise"}) {
		t.Errorf("name %q sources %v ignored %v", idx.Name, idx.Sources, idx.Ignored)
	}
	if len(idx.Summaries) != 1 || idx.Summaries[0].Source != "summary" || idx.Summaries[0].Summary == "" {
		t.Errorf("summaries %+v", idx.Summaries)
	}

	// Terms add up across texts and name where they come from.
	var one, two TextIndex
	_ = json.Unmarshal(parents["index"], &one)
	_ = json.Unmarshal(parents["index2"], &two)
	if idx.Words != one.Words+two.Words {
		t.Errorf("words %d, want %d", idx.Words, one.Words+two.Words)
	}
	counts := map[string]int{}
	for _, ix := range []TextIndex{one, two} {
		for _, term := range ix.Terms {
			counts[term.Term] += term.Count
		}
	}
	if len(idx.Terms) != len(counts) {
		t.Errorf("%d terms, want %d", len(idx.Terms), len(counts))
	}
	for i, term := range idx.Terms {
		if i > 0 && idx.Terms[i-1].Term >= term.Term {
			t.Fatalf("terms out of order at %q", term.Term)
		}
		if term.Count != counts[term.Term] {
			t.Errorf("term %q: count %d, want %d", term.Term, term.Count, counts[term.Term])
		}
	}
	keep := termOf(idx, "keep")
	if keep == nil || !slices.Contains(keep.Sources, "index2") {
		t.Errorf("term keep: %+v", keep)
	}

	// Characters and places merge by name; counts add up.
	var en1, en2 TextEntities
	_ = json.Unmarshal(parents["entities"], &en1)
	_ = json.Unmarshal(parents["entities2"], &en2)
	for i := 1; i < len(idx.Characters); i++ {
		if idx.Characters[i-1].Count < idx.Characters[i].Count {
			t.Fatalf("characters not by count: %+v", idx.Characters)
		}
	}
	elowen := entityOf(idx.Characters, "Lady Elowen Varr")
	want := entityCount(en1.Characters, "Lady Elowen Varr") + entityCount(en2.Characters, "Lady Elowen Varr")
	if elowen == nil || elowen.Count != want || want < 2 || !slices.Equal(elowen.Sources, []string{"entities", "entities2"}) {
		t.Errorf("Lady Elowen Varr: %+v, want count %d from both", elowen, want)
	}
	if p := entityOf(idx.Places, "Thornwall Keep"); p == nil || !slices.Contains(p.Sources, "entities2") {
		t.Errorf("Thornwall Keep: %+v", p)
	}

	// A base index (an earlier merge) is merged in: the counts add up again.
	base, _ := json.Marshal(map[string]any{"base": json.RawMessage(raw)})
	raw2, err := CampaignMergeHandler{}.Handle(context.Background(),
		stepJob(string(base), map[string]json.RawMessage{"later": parents["entities2"]}))
	if err != nil {
		t.Fatal(err)
	}
	var grown CampaignIndex
	if err := json.Unmarshal(raw2, &grown); err != nil {
		t.Fatal(err)
	}
	if grown.Name != "Tomb" || !slices.Contains(grown.Sources, "later") || !slices.Contains(grown.Sources, "index") ||
		len(grown.Terms) != len(idx.Terms) || len(grown.Summaries) != 1 {
		t.Errorf("grown index: name %q sources %v, %d terms", grown.Name, grown.Sources, len(grown.Terms))
	}
	if e := entityOf(grown.Characters, "Lady Elowen Varr"); e == nil || e.Count != want+entityCount(en2.Characters, "Lady Elowen Varr") {
		t.Errorf("grown Lady Elowen Varr: %+v", e)
	}
}

func TestCampaignMergeInput(t *testing.T) {
	t.Parallel()
	h := CampaignMergeHandler{}
	for _, ok := range []string{``, `null`, `{}`, `{"name": "x"}`, `{"base": {"$ref": "old.result"}}`, `{"base": {"sources": []}}`} {
		if err := h.ValidateInput(json.RawMessage(ok)); err != nil {
			t.Errorf("ValidateInput(%s): %v", ok, err)
		}
	}
	for _, bad := range []string{`[]`, `{"nme": "x"}`, `{"name": 3}`, `{"base": 3}`, `{"name": "` + strings.Repeat("x", 201) + `"}`} {
		if err := h.ValidateInput(json.RawMessage(bad)); err == nil {
			t.Errorf("ValidateInput(%s) = nil", bad)
		}
	}
	// Nothing to merge is a permanent failure that says what to do.
	_, err := h.Handle(context.Background(), stepJob(`{}`, nil))
	if err == nil || !archivist.IsPermanent(err) || !strings.Contains(err.Error(), "depend on") {
		t.Errorf("no parents: %v", err)
	}
}

func termOf(idx CampaignIndex, term string) *CampaignTerm {
	for i := range idx.Terms {
		if idx.Terms[i].Term == term {
			return &idx.Terms[i]
		}
	}
	return nil
}

func entityOf(list []CampaignEntity, name string) *CampaignEntity {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

func entityCount(list []Entity, name string) int {
	for _, e := range list {
		if e.Name == name {
			return e.Count
		}
	}
	return 0
}
