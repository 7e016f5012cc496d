package tasks

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func runEntities(t testing.TB, input string) TextEntities {
	t.Helper()
	raw, err := EntitiesHandler{}.Handle(context.Background(), newJob(input, 1, nil))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	var res TextEntities
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestEntitiesSessionNotes(t *testing.T) {
	t.Parallel()
	got := runEntities(t, textInput(t, sessionNotes(t), nil))
	want := TextEntities{
		Characters: []Entity{
			{Name: "Brannoc", Count: 5},
			{Name: "Lady Elowen Varr", Count: 5, Aliases: []string{"Elowen"}},
			{Name: "Tamsin", Count: 3},
			{Name: "Ysolde", Count: 3},
			{Name: "Captain Harl Dunmere", Count: 2, Aliases: []string{"Captain Dunmere"}},
			{Name: "House Varr", Count: 1},
			{Name: "Mr. Pell", Count: 1},
		},
		Places: []Entity{
			{Name: "Saltmere", Count: 3},
			{Name: "Thornwall Keep", Count: 3},
			{Name: "Temple of the Drowned Moon", Count: 2},
			{Name: "Greywater River", Count: 1},
			{Name: "Millbrook", Count: 1},
		},
		Items: []Entity{
			{Name: "Amulet of Seven Winds", Count: 3},
			{Name: "brass key", Count: 3},
			{Name: "+1 longsword", Count: 2},
			{Name: "poisoned blade", Count: 1},
			{Name: "potion of healing", Count: 1},
			{Name: "scroll of fireball", Count: 1},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entities (-want +got):\n%s", diff)
	}

	got = runEntities(t, textInput(t, sessionNotes(t), map[string]any{"minCount": 3}))
	var names []string
	for _, l := range [][]Entity{got.Characters, got.Places, got.Items} {
		for _, e := range l {
			names = append(names, e.Name)
		}
	}
	wantNames := []string{"Brannoc", "Lady Elowen Varr", "Tamsin", "Ysolde", "Saltmere", "Thornwall Keep", "Amulet of Seven Winds", "brass key"}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("with minCount 3 (-want +got):\n%s", diff)
	}
}

func TestEntitiesHeuristics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		want       TextEntities
	}{
		{"capitalised common words are not names",
			"The party slept in the rain. Nobody woke. When the storm came, we left. The End",
			TextEntities{}},
		{"titles, inns, mountains and items",
			"The party met Sir Aldous Crane at the Gilded Goose Inn. The knight gave them a ring of protection. " +
				"Later, Sir Aldous rode to Mt. Ashen with two potions of healing.",
			TextEntities{
				Characters: []Entity{{Name: "Sir Aldous Crane", Count: 2, Aliases: []string{"Sir Aldous"}}},
				Places:     []Entity{{Name: "Gilded Goose Inn", Count: 1}, {Name: "Mt. Ashen", Count: 1}},
				Items:      []Entity{{Name: "potion of healing", Count: 1}, {Name: "ring of protection", Count: 1}},
			}},
		{"different titles are different people",
			"Lady Mira Varr argued with Lord Varr. Lord Varr left for the Sunken Vale.",
			TextEntities{
				Characters: []Entity{{Name: "Lord Varr", Count: 2}, {Name: "Lady Mira Varr", Count: 1}},
				Places:     []Entity{{Name: "Sunken Vale", Count: 1}},
			}},
		{"a name at sentence openings only counts when repeated",
			"Quillon laughed. Quillon paid. Maybe it rained. Then Orla sang.",
			TextEntities{Characters: []Entity{{Name: "Quillon", Count: 2}, {Name: "Orla", Count: 1}}}},
		{"places by their prepositions, people by their verbs",
			"We camped in Duskmere. Later we met Varek in the market. Varek said the road to Duskmere was closed.",
			TextEntities{
				Characters: []Entity{{Name: "Varek", Count: 2}},
				Places:     []Entity{{Name: "Duskmere", Count: 2}},
			}},
		{"of-phrases",
			"They read of the Fall of Karsk. Brannoc of Thornwall found the Staff of Embers in the Tower of the Moon. " +
				"The Staff glowed; Brannoc smiled.",
			TextEntities{
				Characters: []Entity{{Name: "Brannoc", Count: 2}},
				Places:     []Entity{{Name: "Karsk", Count: 1}, {Name: "Thornwall", Count: 1}, {Name: "Tower of the Moon", Count: 1}},
				Items:      []Entity{{Name: "Staff of Embers", Count: 2, Aliases: []string{"Staff"}}},
			}},
		{"dates and shouting",
			"On the 3rd of Frostmoon the DM said RUN. The NPC fled to Vyr.",
			TextEntities{Places: []Entity{{Name: "Vyr", Count: 1}}}},
		{"organisations and relative clauses",
			"The Thieves' Guild hired Orla, who knew the Order of the Silver Flame. We gave the map to Orla, who smiled.",
			TextEntities{Characters: []Entity{
				{Name: "Orla", Count: 2}, {Name: "Order of the Silver Flame", Count: 1}, {Name: "Thieves' Guild", Count: 1},
			}}},
		{"possessives and plus items",
			"Elowen's +2 Shield of Warding shone. She thanked Elowen.",
			TextEntities{
				Characters: []Entity{{Name: "Elowen", Count: 2}},
				Items:      []Entity{{Name: "+2 Shield of Warding", Count: 1}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := runEntities(t, textInput(t, tt.text, nil))
			for _, l := range []*[]Entity{&tt.want.Characters, &tt.want.Places, &tt.want.Items} {
				if *l == nil {
					*l = []Entity{}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("entities of %q (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

func TestEntitiesTruncated(t *testing.T) {
	t.Parallel()
	// Thousands of distinct names, each once.
	var b strings.Builder
	for i := range MaxEntitiesPerKind + 200 {
		b.WriteString("We met ")
		b.WriteString(letterName(i))
		b.WriteString(" today. ")
	}
	res := runEntities(t, textInput(t, b.String(), nil))
	if !res.Truncated || len(res.Characters) != MaxEntitiesPerKind {
		t.Fatalf("truncated = %v with %d characters, want true with %d", res.Truncated, len(res.Characters), MaxEntitiesPerKind)
	}
}

// letterName makes a distinct capitalised name of letters for i.
func letterName(i int) string {
	name := []byte{'Q'}
	for {
		name = append(name, byte('a'+i%26))
		if i /= 26; i == 0 {
			return string(name)
		}
	}
}

func TestEntitiesEnds(t *testing.T) {
	t.Parallel()
	testTextHandlerEnds(t, EntitiesHandler{}, textInput(t, longNotes(t, 900<<10), nil))
}

func FuzzEntities(f *testing.F) {
	f.Add("Lady Elowen Varr of Thornwall met Mr. Pell at the Temple of the Drowned Moon. Elowen's +1 sword of")
	f.Add("A B C D E F G H I J. Of of of The the. X of Y of Z")
	f.Fuzz(func(t *testing.T, text string) {
		res, err := findEntities(text, 1, quietMeter())
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range [][]Entity{res.Characters, res.Places, res.Items} {
			for i, e := range l {
				if e.Name == "" || e.Count < 1 {
					t.Fatalf("bad entity %+v", e)
				}
				if i > 0 && (e.Count > l[i-1].Count) {
					t.Fatalf("%+v sorted after %+v", e, l[i-1])
				}
			}
		}
	})
}
