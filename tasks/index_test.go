package tasks

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	archivist "github.com/rpg-archivist/archivist"
)

func runIndex(t testing.TB, input string) (json.RawMessage, TextIndex) {
	t.Helper()
	raw, err := IndexHandler{}.Handle(context.Background(), newJob(input, 1, nil))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	var res TextIndex
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	return raw, res
}

// lineCols returns the line and column of every byte offset of text that
// starts a rune, computed independently of indexText: line breaks made
// "\n", then counted.
func lineCols(text string) (lines, cols []int) {
	lines, cols = make([]int, len(text)+1), make([]int, len(text)+1)
	line, col := 1, 1
	for i, r := range text {
		lines[i], cols[i] = line, col
		switch {
		case r == '\r' && strings.HasPrefix(text[i+1:], "\n"):
			// The "\n" ends the line.
			col++
		case r == '\n' || r == '\r':
			line, col = line+1, 1
		default:
			col++
		}
	}
	return lines, cols
}

// checkIndex checks every position of res against text: the word there is
// the term, and the line and column agree with the offset.
func checkIndex(t testing.TB, text string, res *TextIndex, minLength int) {
	t.Helper()
	lines, cols := lineCols(text)
	for i, term := range res.Terms {
		if i > 0 && res.Terms[i-1].Term >= term.Term {
			t.Fatalf("terms out of order: %q after %q", term.Term, res.Terms[i-1].Term)
		}
		if utf8.RuneCountInString(term.Term) < minLength || term.Count < len(term.Positions) || len(term.Positions) == 0 ||
			len(term.Positions) > MaxIndexPositions || term.Truncated != (len(term.Positions) < term.Count) {
			t.Fatalf("bad term %q: count %d, %d positions, truncated %v", term.Term, term.Count, len(term.Positions), term.Truncated)
		}
		for j, p := range term.Positions {
			if p.Offset < 0 || p.Offset >= len(text) || (j > 0 && p.Offset <= term.Positions[j-1].Offset) {
				t.Fatalf("term %q: bad offset %d", term.Term, p.Offset)
			}
			start, end := nextWord(text, p.Offset)
			if start != p.Offset {
				t.Fatalf("term %q: no word starts at offset %d (%q)", term.Term, p.Offset, text[p.Offset:min(len(text), p.Offset+20)])
			}
			w := text[start:end]
			if got := strings.ToLower(w[:len(w)-possessiveLen(w)]); got != term.Term {
				t.Fatalf("term %q: the word at offset %d is %q", term.Term, p.Offset, got)
			}
			if line, col := lines[p.Offset], cols[p.Offset]; line != p.Line || col != p.Column {
				t.Fatalf("term %q at offset %d: line %d column %d, want %d:%d", term.Term, p.Offset, p.Line, p.Column, line, col)
			}
		}
	}
}

func findTerm(res TextIndex, term string) *IndexTerm {
	i := slices.IndexFunc(res.Terms, func(t IndexTerm) bool { return t.Term == term })
	if i < 0 {
		return nil
	}
	return &res.Terms[i]
}

func TestIndexSessionNotes(t *testing.T) {
	t.Parallel()
	notes := sessionNotes(t)
	_, res := runIndex(t, textInput(t, notes, nil))
	checkIndex(t, notes, &res, DefaultIndexMinLength)
	if want := strings.Count(notes, "\n"); res.Lines != want {
		t.Errorf("lines = %d, want %d", res.Lines, want)
	}
	words := strings.FieldsFunc(notes, func(r rune) bool { return !isWordRune(r) && r != '\'' && r != '-' })
	words = slices.DeleteFunc(words, func(w string) bool { return strings.Trim(w, "-'") == "" })
	if want := len(words); res.Words != want {
		t.Errorf("words = %d, want %d", res.Words, want)
	}
	if res.TotalTerms != len(res.Terms) || res.TermsTruncated || res.PositionsPerTerm != 0 {
		t.Errorf("a small index was cut: %d of %d terms, %d positions per term", len(res.Terms), res.TotalTerms, res.PositionsPerTerm)
	}
	for term, count := range map[string]int{"saltmere": 3, "amulet": 3, "brannoc": 5, "thornwall": 3, "varr": 4, "raiders": 4, "raider": 2} {
		if got := findTerm(res, term); got == nil || got.Count != count {
			t.Errorf("term %q: %+v, want a count of %d", term, got, count)
		}
	}
	// "Elowen" three times in full and twice alone.
	if got := findTerm(res, "elowen"); got == nil || got.Count != 5 || got.Positions[0] != (IndexPosition{9, 33, 441}) {
		t.Errorf("term elowen: %+v, want 5 from line 9, column 33, offset 441", got)
	}
	for _, stop := range []string{"the", "and", "her", "a", "of", "at", "12"} {
		if findTerm(res, stop) != nil {
			t.Errorf("stop word or short word %q indexed", stop)
		}
	}

	_, all := runIndex(t, textInput(t, notes, map[string]any{"minLength": 1, "stopWords": false}))
	checkIndex(t, notes, &all, 1)
	for _, w := range []string{"the", "a", "of", "+1"[1:]} {
		if w != "1" && findTerm(all, w) == nil {
			t.Errorf("%q not indexed with stop words kept", w)
		}
	}
	if findTerm(all, "1") != nil || findTerm(all, "12") != nil {
		t.Error("numbers indexed: terms need a letter")
	}
}

func TestIndexPositions(t *testing.T) {
	t.Parallel()
	text := "Ærindel's “Sword”\r\n\tof ÆRINDEL\rthe sword-maker\n\nÉowyn\n"
	_, res := runIndex(t, textInput(t, text, map[string]any{"minLength": 2}))
	checkIndex(t, text, &res, 2)
	want := map[string][]IndexPosition{
		"ærindel":     {{1, 1, 0}, {2, 5, 28}},
		"sword":       {{1, 12, 14}},
		"sword-maker": {{3, 5, 41}},
		"éowyn":       {{5, 1, 54}},
	}
	if len(res.Terms) != len(want) {
		t.Errorf("terms %+v, want %v", res.Terms, want)
	}
	for term, pos := range want {
		if got := findTerm(res, term); got == nil || !slices.Equal(got.Positions, pos) {
			t.Errorf("term %q: %+v, want %v", term, got, pos)
		}
	}
	if res.Lines != 5 || res.Words != 7 {
		t.Errorf("lines, words = %d, %d; want 5, 7", res.Lines, res.Words)
	}
}

func TestIndexPositionsCapped(t *testing.T) {
	t.Parallel()
	text := strings.Repeat("dragon hoard ", MaxIndexPositions+500)
	_, res := runIndex(t, textInput(t, text, nil))
	checkIndex(t, text, &res, DefaultIndexMinLength)
	d := findTerm(res, "dragon")
	if d == nil || d.Count != MaxIndexPositions+500 || len(d.Positions) != MaxIndexPositions || !d.Truncated {
		t.Fatalf("dragon: %+v", d)
	}
}

// TestIndexFitsResultLimit indexes a megabyte of distinct words, whose full
// index would be several times the result limit.
func TestIndexFitsResultLimit(t *testing.T) {
	t.Parallel()
	if raceEnabled {
		t.Skip("a megabyte of words takes long under the race detector, and the handler runs in one goroutine")
	}
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for b.Len() < MaxTextBytes-100 {
		for range 3 + r.IntN(4) {
			b.WriteByte(byte('a' + r.IntN(26)))
		}
		b.WriteByte(' ')
	}
	text := b.String()
	raw, res := runIndex(t, textInput(t, text, nil))
	if len(raw) > archivist.MaxResultBytes {
		t.Fatalf("result is %d bytes, over the limit", len(raw))
	}
	if !res.TermsTruncated || res.PositionsPerTerm != 1 || len(res.Terms) >= res.TotalTerms {
		t.Fatalf("termsTruncated %v, positionsPerTerm %d, %d of %d terms", res.TermsTruncated, res.PositionsPerTerm, len(res.Terms), res.TotalTerms)
	}
	checkIndex(t, text, &res, DefaultIndexMinLength)
	// The terms kept are the most frequent.
	least := slices.MinFunc(res.Terms, func(a, b IndexTerm) int { return a.Count - b.Count }).Count
	counts, kept := map[string]int{}, map[string]bool{}
	for _, w := range strings.Fields(text) {
		counts[w]++
	}
	for _, term := range res.Terms {
		kept[term.Term] = true
	}
	for w, c := range counts {
		if c > least && !kept[w] && !stopWords[w] {
			t.Fatalf("term %q (%d times) dropped while one of %d times was kept", w, c, least)
		}
	}
}

func TestFitIndex(t *testing.T) {
	t.Parallel()
	mk := func() *TextIndex {
		res := &TextIndex{}
		for i, n := range []int{5, 1, 50, 3} {
			term := IndexTerm{Term: string(rune('a' + i)), Count: n}
			for k := range n {
				term.Positions = append(term.Positions, IndexPosition{Line: 1, Column: k + 1, Offset: k})
			}
			res.Terms = append(res.Terms, term)
		}
		res.TotalTerms = len(res.Terms)
		return res
	}
	size := func(res *TextIndex) int {
		b, _ := json.Marshal(res.Terms)
		return len(b)
	}
	full := mk()
	fitIndex(full, indexSize(full.Terms, MaxIndexPositions))
	if full.PositionsPerTerm != 0 || full.TermsTruncated {
		t.Fatalf("an index that fits was cut: %+v", full)
	}
	for _, budget := range []int{2000, 600, 300, 150} {
		res := mk()
		fitIndex(res, budget)
		if got := size(res); got > budget {
			t.Errorf("budget %d: terms take %d bytes", budget, got)
		}
		if res.PositionsPerTerm == 0 {
			t.Errorf("budget %d: positionsPerTerm not set", budget)
		}
		if res.TermsTruncated != (len(res.Terms) < 4) {
			t.Errorf("budget %d: termsTruncated %v with %d terms", budget, res.TermsTruncated, len(res.Terms))
		}
		if len(res.Terms) > 0 && findTerm(*res, "c") == nil {
			t.Errorf("budget %d: the most frequent term was dropped: %+v", budget, res.Terms)
		}
	}
}

func TestIndexEnds(t *testing.T) {
	t.Parallel()
	testTextHandlerEnds(t, IndexHandler{}, textInput(t, longNotes(t, 900<<10), nil))
}

func FuzzIndex(f *testing.F) {
	f.Add("Ærindel's “Sword”\r\n\tof ÆRINDEL\rthe sword-maker", 1, true)
	f.Add("a\n\nb c'd -e- f's", 3, false)
	f.Fuzz(func(t *testing.T, text string, minLength int, dropStop bool) {
		minLength = 1 + abs(minLength)%MaxIndexMinLength
		res, err := indexText(text, minLength, dropStop, quietMeter())
		if err != nil {
			t.Fatal(err)
		}
		checkIndex(t, text, res, minLength)
		if res.Lines > strings.Count(text, "\n")+strings.Count(text, "\r")+1 {
			t.Fatalf("%d lines", res.Lines)
		}
	})
}
