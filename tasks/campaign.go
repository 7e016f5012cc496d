package tasks

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	archivist "github.com/rpg-archivist/archivist"
)

// MaxCampaignNameBytes bounds the "name" of "campaign.merge".
const MaxCampaignNameBytes = 200

// CampaignMergeHandler runs "campaign.merge", a workflow step that merges
// the results of the steps it depends on (Job.ParentResults) into one
// campaign index: the terms of text.index results, the characters, places
// and items of text.entities results, and the summaries of text.summarize
// results, each with the steps it came from. An earlier index ("base", say
// the result of the last session's merge, given with a $ref or inline) is
// merged in too, so an index can grow session by session.
type CampaignMergeHandler struct{}

// CampaignIndex is the result of "campaign.merge".
type CampaignIndex struct {
	// Name is the input's "name", or the base's.
	Name string `json:"name,omitempty"`
	// Sources are the step keys merged, sorted (and the base's sources).
	Sources []string `json:"sources"`
	// Terms are sorted by term; Count sums the counts of every source.
	Terms      []CampaignTerm   `json:"terms"`
	Characters []CampaignEntity `json:"characters"`
	Places     []CampaignEntity `json:"places"`
	Items      []CampaignEntity `json:"items"`
	// Summaries are the summaries merged, the base's first, then by step
	// key.
	Summaries []CampaignSummary `json:"summaries"`
	// Words sums the words of the indexed texts.
	Words int `json:"words"`
	// Ignored are parents whose result is none of the known kinds.
	Ignored []string `json:"ignored,omitempty"`
}

// CampaignTerm is one term of a campaign index.
type CampaignTerm struct {
	Term    string   `json:"term"`
	Count   int      `json:"count"`
	Sources []string `json:"sources"`
}

// CampaignEntity is one character, place or item of a campaign index; the
// lists are sorted by count, highest first, then by name.
type CampaignEntity struct {
	Name    string   `json:"name"`
	Count   int      `json:"count"`
	Aliases []string `json:"aliases,omitempty"`
	Sources []string `json:"sources"`
}

// CampaignSummary is the summary one step made.
type CampaignSummary struct {
	Source  string `json:"source"`
	Summary string `json:"summary"`
}

type campaignInput struct {
	name string
	base *CampaignIndex
}

const campaignExample = `{"name": "Tomb of the Drowned Moon", "base": {"$ref": "previous.result"}}`

func parseCampaignInput(input json.RawMessage) (campaignInput, error) {
	var in campaignInput
	if len(bytes.TrimSpace(input)) == 0 || bytes.Equal(bytes.TrimSpace(input), []byte("null")) {
		return in, nil
	}
	f, err := decodeFields(input, campaignExample, "name", "base")
	if err != nil {
		return in, err
	}
	name, _, err := f.string("name")
	if err != nil {
		return in, err
	}
	if len(name) > MaxCampaignNameBytes {
		return in, fmt.Errorf("name is %d bytes; the limit is %d", len(name), MaxCampaignNameBytes)
	}
	in.name = strings.TrimSpace(name)
	if f.has("base") && !archivist.HasRefs(f["base"]) {
		// A $ref is resolved when the step runs; anything else must be an
		// index now.
		var b CampaignIndex
		if err := json.Unmarshal(f["base"], &b); err != nil || bytes.TrimSpace(f["base"])[0] != '{' {
			return in, fmt.Errorf("base must be a campaign index (the result of an earlier campaign.merge), got %s", describeJSON(f["base"]))
		}
		in.base = &b
	}
	return in, nil
}

// ValidateInput checks that input is empty, null or an object with an
// optional string "name" and an optional "base" (a campaign index or a
// $ref to one).
func (CampaignMergeHandler) ValidateInput(input json.RawMessage) error {
	_, err := parseCampaignInput(input)
	return err
}

// Handle merges the parents' results and returns a CampaignIndex.
func (CampaignMergeHandler) Handle(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in, err := parseCampaignInput(job.Task.Input)
	if err != nil {
		return nil, archivist.Permanent(err)
	}
	parents, err := job.ParentResults(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the parents' results: %w", err)
	}
	if len(parents) == 0 && in.base == nil {
		return nil, archivist.Permanent(fmt.Errorf("campaign.merge has nothing to merge: make it depend on text.index, text.entities or text.summarize steps"))
	}
	idx, err := mergeCampaign(ctx, in, parents)
	if err != nil {
		return nil, err
	}
	return marshalResult(idx)
}

// campaignMerger accumulates a campaign index.
type campaignMerger struct {
	sources  map[string]bool
	terms    map[string]*CampaignTerm
	entities [3]map[string]*CampaignEntity // characters, places, items, by lower-case name
	idx      CampaignIndex
}

func mergeCampaign(ctx context.Context, in campaignInput, parents map[string]json.RawMessage) (*CampaignIndex, error) {
	m := &campaignMerger{sources: map[string]bool{}, terms: map[string]*CampaignTerm{}}
	for i := range m.entities {
		m.entities[i] = map[string]*CampaignEntity{}
	}
	m.idx.Name = in.name
	if b := in.base; b != nil {
		if m.idx.Name == "" {
			m.idx.Name = b.Name
		}
		m.addBase(b)
	}
	for _, key := range slices.Sorted(maps.Keys(parents)) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !m.addResult(key, parents[key]) {
			m.idx.Ignored = append(m.idx.Ignored, key)
		}
	}
	return m.finish(), nil
}

// addBase merges an earlier campaign index.
func (m *campaignMerger) addBase(b *CampaignIndex) {
	for _, s := range b.Sources {
		m.sources[s] = true
	}
	for _, t := range b.Terms {
		m.addTerm(t.Term, t.Count, t.Sources...)
	}
	for i, list := range [][]CampaignEntity{b.Characters, b.Places, b.Items} {
		for _, e := range list {
			m.addEntity(i, e.Name, e.Count, e.Aliases, e.Sources...)
		}
	}
	m.idx.Summaries = append(m.idx.Summaries, b.Summaries...)
	m.idx.Words += b.Words
}

// addResult merges the result of step key, and reports whether it was of
// a known kind. A result may be of several kinds (a campaign index is all
// of them).
func (m *campaignMerger) addResult(key string, raw json.RawMessage) bool {
	var probe map[string]json.RawMessage
	if json.Unmarshal(raw, &probe) != nil {
		return false
	}
	known := false
	if _, ok := probe["sources"]; ok {
		var b CampaignIndex
		if json.Unmarshal(raw, &b) == nil {
			m.addBase(&b)
			m.sources[key] = true
			return true
		}
	}
	if _, ok := probe["terms"]; ok {
		var ix TextIndex
		if json.Unmarshal(raw, &ix) == nil {
			for _, t := range ix.Terms {
				m.addTerm(t.Term, t.Count, key)
			}
			m.idx.Words += ix.Words
			known = true
		}
	}
	_, hasChars := probe["characters"]
	_, hasPlaces := probe["places"]
	if hasChars || hasPlaces {
		var en TextEntities
		if json.Unmarshal(raw, &en) == nil {
			for i, list := range [][]Entity{en.Characters, en.Places, en.Items} {
				for _, e := range list {
					m.addEntity(i, e.Name, e.Count, e.Aliases, key)
				}
			}
			known = true
		}
	}
	if _, ok := probe["summary"]; ok {
		var su TextSummary
		if json.Unmarshal(raw, &su) == nil && su.Summary != "" {
			m.idx.Summaries = append(m.idx.Summaries, CampaignSummary{Source: key, Summary: su.Summary})
			known = true
		}
	}
	if known {
		m.sources[key] = true
	}
	return known
}

func (m *campaignMerger) addTerm(term string, count int, sources ...string) {
	t := m.terms[term]
	if t == nil {
		t = &CampaignTerm{Term: term}
		m.terms[term] = t
	}
	t.Count += count
	t.Sources = appendNew(t.Sources, sources...)
}

func (m *campaignMerger) addEntity(kind int, name string, count int, aliases []string, sources ...string) {
	k := strings.ToLower(name)
	e := m.entities[kind][k]
	if e == nil {
		e = &CampaignEntity{Name: name}
		m.entities[kind][k] = e
	}
	e.Count += count
	e.Aliases = appendNew(e.Aliases, aliases...)
	e.Sources = appendNew(e.Sources, sources...)
}

// appendNew appends the values of add that list does not hold yet.
func appendNew(list []string, add ...string) []string {
	for _, a := range add {
		if !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	return list
}

func (m *campaignMerger) finish() *CampaignIndex {
	idx := &m.idx
	idx.Sources = slices.Sorted(maps.Keys(m.sources))
	idx.Terms = make([]CampaignTerm, 0, len(m.terms))
	for _, k := range slices.Sorted(maps.Keys(m.terms)) {
		t := m.terms[k]
		slices.Sort(t.Sources)
		idx.Terms = append(idx.Terms, *t)
	}
	lists := [3]*[]CampaignEntity{&idx.Characters, &idx.Places, &idx.Items}
	for i, byName := range m.entities {
		out := make([]CampaignEntity, 0, len(byName))
		for _, e := range byName {
			slices.Sort(e.Sources)
			slices.Sort(e.Aliases)
			out = append(out, *e)
		}
		slices.SortFunc(out, func(a, b CampaignEntity) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name))
		})
		*lists[i] = out
	}
	if idx.Summaries == nil {
		idx.Summaries = []CampaignSummary{}
	}
	return idx
}
