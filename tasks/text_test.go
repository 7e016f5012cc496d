package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	archivist "github.com/rpg-archivist/archivist"
)

// sessionNotes is the sample of session notes in testdata.
func sessionNotes(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/session-notes.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// longNotes repeats the sample notes to about n bytes.
func longNotes(t testing.TB, n int) string {
	t.Helper()
	notes := sessionNotes(t)
	return strings.Repeat(notes+"\n", n/(len(notes)+1))
}

// textInput returns a task input with text and the other fields given.
func textInput(t testing.TB, text string, more map[string]any) string {
	t.Helper()
	in := map[string]any{"text": text}
	for k, v := range more {
		in[k] = v
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func quietMeter() *textMeter { return newTextMeter(context.Background(), nil, 0) }

func TestSplitSentences(t *testing.T) {
	t.Parallel()
	type sent struct {
		text    string
		heading bool
	}
	tests := []struct {
		name, text string
		want       []sent
	}{
		{"plain", "The party rested. Then the dragon came!  Was it Vyr? Nobody knew…",
			[]sent{{"The party rested.", false}, {"Then the dragon came!", false}, {"Was it Vyr?", false}, {"Nobody knew…", false}}},
		{"abbreviations and initials", "Mr. Pell met Dr. Vale near Mt. Ashen. They spoke of J. R. Tolk, e.g. his maps. It rained.",
			[]sent{{"Mr. Pell met Dr. Vale near Mt. Ashen.", false}, {"They spoke of J. R. Tolk, e.g. his maps.", false}, {"It rained.", false}}},
		{"numbers and quotes", `They paid 2.5 gold. "Run!" she said. "Why?" Nobody answered.`,
			[]sent{{"They paid 2.5 gold.", false}, {`"Run!" she said.`, false}, {`"Why?"`, false}, {"Nobody answered.", false}}},
		{"hard-wrapped lines", "The party rode north from\nMillbrook at dawn and reached\nthe keep. It was empty.",
			[]sent{{"The party rode north from Millbrook at dawn and reached the keep.", false}, {"It was empty.", false}}},
		{"headings, title lines and bullets", "# Session 3\n\nLoot:\n- a +1 sword\n- 40 gold\n  pieces\n* [x] a map. And a key\n\nThe end",
			[]sent{{"Session 3", true}, {"Loot:", true}, {"a +1 sword", false}, {"40 gold pieces", false}, {"a map.", false}, {"And a key", false}, {"The end", false}}},
		{"title line before prose", "Session 12, Frostmoon\nThe party met Elowen. She was hurt.\n",
			[]sent{{"Session 12, Frostmoon", true}, {"The party met Elowen.", false}, {"She was hurt.", false}}},
		{"not a title: ends with and", "We met Lady Elowen and\nCaptain Harl at the gate.",
			[]sent{{"We met Lady Elowen and Captain Harl at the gate.", false}}},
		{"CRLF and CR", "First line.\r\nSecond line.\rThird.\r\n\r\nNew paragraph.",
			[]sent{{"First line.", false}, {"Second line.", false}, {"Third.", false}, {"New paragraph.", false}}},
		{"rules", "One.\n---\nTwo.\n===\n",
			[]sent{{"One.", false}, {"Two.", false}}},
		{"nothing", " \n\n\t", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sents, err := splitSentences(tt.text, quietMeter())
			if err != nil {
				t.Fatal(err)
			}
			var got []sent
			for _, s := range sents {
				got = append(got, sent{s.text(tt.text), s.heading})
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(sent{})); diff != "" {
				t.Errorf("sentences (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitSentencesParagraphs(t *testing.T) {
	t.Parallel()
	text := "One. Two.\n\nThree.\n- four\n- five\n\nSix."
	sents, err := splitSentences(text, quietMeter())
	if err != nil {
		t.Fatal(err)
	}
	type para struct {
		para  int
		first bool
	}
	want := []para{{0, true}, {0, false}, {1, true}, {2, true}, {2, false}, {3, true}}
	var got []para
	for _, s := range sents {
		got = append(got, para{s.para, s.first})
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(para{})); diff != "" {
		t.Errorf("paragraphs (-want +got):\n%s", diff)
	}
}

func TestNextWord(t *testing.T) {
	t.Parallel()
	text := `Elowen's half-orc friend—"Brannoc"—can't say 'no'; Æthel wields +1 swords… ok- -x`
	var got []string
	for i := 0; ; {
		start, end := nextWord(text, i)
		if start < 0 {
			break
		}
		got = append(got, text[start:end])
		i = end
	}
	want := []string{"Elowen's", "half-orc", "friend", "Brannoc", "can't", "say", "no", "Æthel", "wields", "1", "swords", "ok", "x"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("words (-want +got):\n%s", diff)
	}
}

// cancelOnProgress returns a job for input whose first progress report
// cancels ctx, and a function that reports how many reports came.
func cancelOnProgress(input string, cancel context.CancelFunc) (*archivist.Job, func() []float64) {
	var mu sync.Mutex
	var reports []float64
	job := archivist.NewJob(&archivist.Task{ID: "t1", Type: "test", Attempt: 1, Input: json.RawMessage(input)},
		func(f float64, _ string) {
			mu.Lock()
			defer mu.Unlock()
			reports = append(reports, f)
			cancel()
		})
	return job, func() []float64 {
		mu.Lock()
		defer mu.Unlock()
		return append([]float64(nil), reports...)
	}
}

// testTextHandlerEnds runs h on a long input three ways: to the end,
// reporting progress; cancelled at its first progress report; and with a
// context cancelled before it starts. The cancelled runs must return
// context.Canceled at once.
func testTextHandlerEnds(t *testing.T, h archivist.Handler, input string) {
	t.Helper()
	t.Run("progress", func(t *testing.T) {
		t.Parallel()
		var progress progressLog
		if _, err := h.Handle(context.Background(), newJob(input, 1, &progress)); err != nil {
			t.Fatal(err)
		}
		reports := progress.fractions()
		if len(reports) < 3 {
			t.Fatalf("%d progress reports on a long input, want several", len(reports))
		}
		for i, f := range reports {
			if f <= 0 || f >= 1 || (i > 0 && f <= reports[i-1]) {
				t.Fatalf("progress reports %v are not increasing within (0, 1)", reports)
			}
		}
	})
	t.Run("cancelled during", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		job, reports := cancelOnProgress(input, cancel)
		_, err := h.Handle(ctx, job)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Handle = %v, want context.Canceled", err)
		}
		if n := len(reports()); n != 1 {
			t.Errorf("%d progress reports, want 1: it went on after the cancellation", n)
		}
	})
	t.Run("cancelled before", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		start := time.Now()
		_, err := h.Handle(ctx, newJob(input, 1, nil))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Handle = %v, want context.Canceled", err)
		}
		if elapsed := time.Since(start); elapsed > time.Second {
			t.Errorf("Handle took %s to notice a cancelled context", elapsed)
		}
	})
}

func TestMarshalResultLimit(t *testing.T) {
	t.Parallel()
	b, err := marshalResult(map[string]string{"s": "<b>&</b>"})
	if err != nil || string(b) != `{"s":"<b>&</b>"}` {
		t.Fatalf("marshalResult = %s, %v; want HTML left unescaped", b, err)
	}
	_, err = marshalResult(strings.Repeat("x", archivist.MaxResultBytes))
	if err == nil || !archivist.IsPermanent(err) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("marshalResult of an oversized result = %v, want a permanent error about the limit", err)
	}
}
