package tasks

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func runSummarize(t testing.TB, input string) TextSummary {
	t.Helper()
	raw, err := SummarizeHandler{}.Handle(context.Background(), newJob(input, 1, nil))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	var res TextSummary
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// checkSummary checks what must hold of any summary of at most n sentences.
func checkSummary(t testing.TB, res TextSummary, n int) {
	t.Helper()
	if len(res.Sentences) > n || len(res.Sentences) > res.TotalSentences {
		t.Fatalf("%d sentences, asked for %d of %d", len(res.Sentences), n, res.TotalSentences)
	}
	if want := min(n, res.TotalSentences); len(res.Sentences) != want {
		t.Fatalf("%d sentences, want %d", len(res.Sentences), want)
	}
	var texts []string
	top := 0.0
	for i, s := range res.Sentences {
		if i > 0 && s.Index <= res.Sentences[i-1].Index {
			t.Fatalf("sentences out of order: %d after %d", s.Index, res.Sentences[i-1].Index)
		}
		if s.Index < 0 || s.Index >= res.TotalSentences || s.Text == "" || s.Score < 0 || s.Score > 1 {
			t.Fatalf("bad sentence %+v of %d", s, res.TotalSentences)
		}
		texts = append(texts, s.Text)
		top = max(top, s.Score)
	}
	// The best sentence scores 1, unless none has a word that counts.
	if len(res.Sentences) > 0 && top != 1 && top != 0 {
		t.Errorf("best score %v, want 1", top)
	}
	// Sentences are joined by a space, or a line break after one without
	// closing punctuation.
	joined := strings.Join(texts, " ")
	if strings.ReplaceAll(res.Summary, "\n", " ") != joined {
		t.Errorf("summary %q is not the sentences %q", res.Summary, joined)
	}
}

func TestSummarizeSessionNotes(t *testing.T) {
	t.Parallel()
	notes := sessionNotes(t)
	res := runSummarize(t, textInput(t, notes, nil))
	checkSummary(t, res, DefaultSummarySentences)
	// 24 sentences, less the heading, the title line "Loot:" and the
	// first line's date (a title line too).
	if res.TotalSentences != 21 {
		t.Errorf("totalSentences = %d, want 21", res.TotalSentences)
	}
	// The revelation is what the session was about.
	if !strings.Contains(res.Summary, "Elowen revealed the truth: the Amulet of Seven Winds was not in the keep at all.") {
		t.Errorf("summary leaves out the key sentence: %q", res.Summary)
	}
	for _, s := range res.Sentences {
		if strings.HasPrefix(s.Text, "Session 12") || s.Text == "Loot:" {
			t.Errorf("summary has a heading: %q", s.Text)
		}
	}

	// Longer summaries keep the shorter ones' best sentences.
	long := runSummarize(t, textInput(t, notes, map[string]any{"sentences": 8}))
	checkSummary(t, long, 8)
	for _, s := range res.Sentences {
		if !strings.Contains(long.Summary, s.Text) {
			t.Errorf("8-sentence summary lacks %q from the 3-sentence one", s.Text)
		}
	}

	// Asking for more than there are returns them all, bullets included,
	// each bullet on its own line.
	all := runSummarize(t, textInput(t, notes, map[string]any{"sentences": MaxSummarySentences}))
	checkSummary(t, all, MaxSummarySentences)
	if !strings.Contains(all.Summary, "a +1 longsword (Brannoc)\na brass key taken from the raider chief\n") {
		t.Errorf("bullets not one to a line: %q", all.Summary)
	}

	// The same input gives the same result.
	again := runSummarize(t, textInput(t, notes, nil))
	if again.Summary != res.Summary {
		t.Errorf("summaries differ between runs:\n%q\n%q", res.Summary, again.Summary)
	}
}

func TestSummarizeSmall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		n          int
		want       string
		total      int
	}{
		{"one sentence", "The dragon sleeps.", 3, "The dragon sleeps.", 1},
		{"headings only", "# Session 1\n\n## Loot", 3, "", 0},
		{"no punctuation", "the dragon sleeps under the hill", 1, "the dragon sleeps under the hill", 1},
		// The sentence about the dragon repeats the words that matter.
		{"frequent words", "It rained. The red dragon attacked the village. Villagers fled the dragon. A cat slept.", 1,
			"The red dragon attacked the village.", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := runSummarize(t, textInput(t, tt.text, map[string]any{"sentences": tt.n}))
			checkSummary(t, res, tt.n)
			if res.Summary != tt.want || res.TotalSentences != tt.total {
				t.Errorf("summary %q of %d sentences, want %q of %d", res.Summary, res.TotalSentences, tt.want, tt.total)
			}
		})
	}
}

func TestSummarizeEnds(t *testing.T) {
	t.Parallel()
	testTextHandlerEnds(t, SummarizeHandler{}, textInput(t, longNotes(t, 900<<10), nil))
}

func FuzzSummarize(f *testing.F) {
	f.Add("The party rested. Mr. Pell left!\n\n- a key\n# Loot", 2)
	f.Add("“Run!” she said… e.g. now.\r\nNext.", 1)
	f.Fuzz(func(t *testing.T, text string, n int) {
		n = 1 + abs(n)%MaxSummarySentences
		res, err := summarize(text, n, quietMeter())
		if err != nil {
			t.Fatal(err)
		}
		checkSummary(t, *res, n)
		if _, err := marshalResult(res); err != nil {
			t.Fatal(err)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -(n + 1)
	}
	return n
}
