package tasks

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

	archivist "github.com/rpg-archivist/archivist"
)

// Limits of "text.index".
const (
	// DefaultIndexMinLength is the shortest term indexed when the input does
	// not say, in characters.
	DefaultIndexMinLength = 3
	// MaxIndexMinLength bounds "minLength".
	MaxIndexMinLength = 100
	// MaxIndexPositions is the most positions listed for one term; its count
	// still counts them all.
	MaxIndexPositions = 1000
	// indexResultBudget is the size the terms of a result may take, leaving
	// room under archivist.MaxResultBytes for the rest.
	indexResultBudget = archivist.MaxResultBytes - 4<<10
)

// IndexHandler runs "text.index": a keyword index of a document, with the
// line, column and offset of each occurrence.
type IndexHandler struct{}

// TextIndex is the result of "text.index".
type TextIndex struct {
	// Terms are sorted by term (in code point order).
	Terms []IndexTerm `json:"terms"`
	// Lines is the number of lines of the text; a final line break does not
	// start another.
	Lines int `json:"lines"`
	// Words is the number of words of the text, indexed or not.
	Words int `json:"words"`
	// TotalTerms is the number of distinct terms found; more than
	// len(Terms) when the result was too large and terms were dropped.
	TotalTerms int `json:"totalTerms"`
	// TermsTruncated is set when the least frequent terms were dropped to
	// keep the result under the result size limit.
	TermsTruncated bool `json:"termsTruncated,omitempty"`
	// PositionsPerTerm is set when fewer than MaxIndexPositions positions
	// per term were kept, to fit the result size limit.
	PositionsPerTerm int `json:"positionsPerTerm,omitempty"`
}

// IndexTerm is one term and where it occurs.
type IndexTerm struct {
	// Term is the word in lower case, without a possessive "'s".
	Term  string `json:"term"`
	Count int    `json:"count"`
	// Positions are the first occurrences, in order: all of them unless
	// Truncated is set.
	Positions []IndexPosition `json:"positions"`
	Truncated bool            `json:"truncated,omitempty"`
}

// IndexPosition is where an occurrence starts. Line and Column count from
// 1, the column in characters (Unicode code points); Offset counts bytes of
// the UTF-8 text from 0.
type IndexPosition struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Offset int `json:"offset"`
}

type indexInput struct {
	text      string
	minLength int
	stopWords bool
}

const indexExample = `{"text": "The dragon sleeps under Thornwall Keep.", "minLength": 3, "stopWords": true}`

func parseIndexInput(input json.RawMessage) (indexInput, error) {
	var in indexInput
	f, err := decodeFields(input, indexExample, "text", "minLength", "stopWords")
	if err != nil {
		return in, err
	}
	if in.text, err = f.text("text", "the document to index"); err != nil {
		return in, err
	}
	n, ok, err := f.int("minLength", 1, MaxIndexMinLength)
	if err != nil {
		return in, err
	}
	in.minLength = DefaultIndexMinLength
	if ok {
		in.minLength = int(n)
	}
	if in.stopWords, err = f.boolOr("stopWords", true); err != nil {
		return in, err
	}
	return in, nil
}

// ValidateInput checks that input is {"text": T} with T some text of at most
// MaxTextBytes bytes, an optional "minLength" from 1 to MaxIndexMinLength
// and an optional boolean "stopWords".
func (IndexHandler) ValidateInput(input json.RawMessage) error {
	_, err := parseIndexInput(input)
	return err
}

// Handle indexes the text and returns a TextIndex.
func (IndexHandler) Handle(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in, err := parseIndexInput(job.Task.Input)
	if err != nil {
		return nil, archivist.Permanent(err)
	}
	res, err := indexText(in.text, in.minLength, in.stopWords, newTextMeter(ctx, job, len(in.text)))
	if err != nil {
		return nil, err
	}
	return marshalResult(res)
}

// indexTerm is a term being collected.
type indexTerm struct {
	count     int
	positions []IndexPosition
}

// indexText indexes the words of text that have a letter and at least
// minLength characters, leaving out stop words when dropStop is set.
func indexText(text string, minLength int, dropStop bool, m *textMeter) (*TextIndex, error) {
	m.stage("indexing", 0, 0.9)
	terms := map[string]*indexTerm{}
	res := &TextIndex{}
	line, col, pos := 1, 1, 0
	// advance moves pos to `to`, counting lines and columns on the way.
	advance := func(to int) {
		for pos < to {
			r, size := utf8.DecodeRuneInString(text[pos:])
			switch {
			case r == '\n':
				line, col = line+1, 1
			case r == '\r':
				if pos+1 < len(text) && text[pos+1] == '\n' {
					size = 2
				}
				line, col = line+1, 1
			default:
				col++
			}
			pos += size
		}
	}
	for i := 0; ; {
		start, end := nextWord(text, i)
		if start < 0 {
			break
		}
		i = end
		if err := m.at(start); err != nil {
			return nil, err
		}
		res.Words++
		w := text[start:end]
		w = w[:len(w)-possessiveLen(w)]
		if utf8.RuneCountInString(w) < minLength || !hasLetter(w) {
			continue
		}
		term := strings.ToLower(w)
		if dropStop && stopWords[term] {
			continue
		}
		advance(start)
		t := terms[term]
		if t == nil {
			t = &indexTerm{}
			terms[term] = t
		}
		t.count++
		if len(t.positions) < MaxIndexPositions {
			t.positions = append(t.positions, IndexPosition{Line: line, Column: col, Offset: start})
		}
	}
	advance(len(text))
	res.Lines = line
	if last, _ := utf8.DecodeLastRuneInString(text); last == '\n' || last == '\r' {
		res.Lines--
	}

	m.stage("sorting", 0.9, 1)
	if err := m.ctx.Err(); err != nil {
		return nil, err
	}
	res.TotalTerms = len(terms)
	res.Terms = make([]IndexTerm, 0, len(terms))
	for term, t := range terms {
		res.Terms = append(res.Terms, IndexTerm{Term: term, Count: t.count, Positions: t.positions, Truncated: len(t.positions) < t.count})
	}
	slices.SortFunc(res.Terms, func(a, b IndexTerm) int { return strings.Compare(a.Term, b.Term) })
	fitIndex(res, indexResultBudget)
	return res, nil
}

// fitIndex shrinks res until its terms take at most budget bytes of JSON:
// first it keeps fewer positions per term (the same number for every
// term), then, if that is not enough, it drops the least frequent terms.
func fitIndex(res *TextIndex, budget int) {
	if indexSize(res.Terms, MaxIndexPositions) <= budget {
		return
	}
	// The largest number of positions per term that fits, at least 1.
	lo, hi := 1, MaxIndexPositions
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if indexSize(res.Terms, mid) <= budget {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	res.PositionsPerTerm = lo
	for i := range res.Terms {
		t := &res.Terms[i]
		if len(t.Positions) > lo {
			t.Positions, t.Truncated = t.Positions[:lo], true
		}
	}
	if indexSize(res.Terms, lo) <= budget {
		return
	}
	// Keep the most frequent terms (ties to the first in order) that fit.
	order := make([]int, len(res.Terms))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(res.Terms[b].Count, res.Terms[a].Count) })
	keep := make([]bool, len(res.Terms))
	size := 2
	for _, i := range order {
		s := termSize(res.Terms[i], lo)
		if size+s > budget {
			break
		}
		size += s
		keep[i] = true
	}
	kept := res.Terms[:0]
	for i, t := range res.Terms {
		if keep[i] {
			kept = append(kept, t)
		}
	}
	res.Terms = kept
	res.TermsTruncated = true
}

// indexSize is the size of terms in JSON with at most perTerm positions
// each, an upper bound that does not count on omitted fields.
func indexSize(terms []IndexTerm, perTerm int) int {
	size := 2
	for _, t := range terms {
		size += termSize(t, perTerm)
	}
	return size
}

// termSize bounds the JSON size of t with at most perTerm positions, with
// the comma after it.
func termSize(t IndexTerm, perTerm int) int {
	// {"term":"","count":,"positions":[],"truncated":true},
	size := 56 + len(t.Term) + digits(t.Count)
	for _, p := range t.Positions[:min(perTerm, len(t.Positions))] {
		// {"line":,"column":,"offset":},
		size += 30 + digits(p.Line) + digits(p.Column) + digits(p.Offset)
	}
	return size
}

// digits is the number of decimal digits of n >= 0.
func digits(n int) int {
	d := 1
	for n >= 10 {
		n /= 10
		d++
	}
	return d
}
