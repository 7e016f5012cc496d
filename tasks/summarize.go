package tasks

import (
	"cmp"
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"

	archivist "github.com/rpg-archivist/archivist"
)

// Limits of "text.summarize".
const (
	// DefaultSummarySentences is the length of a summary when the input
	// does not say.
	DefaultSummarySentences = 3
	// MaxSummarySentences is the longest summary one may ask for.
	MaxSummarySentences = 50
)

// SummarizeHandler runs "text.summarize": an extractive summary of session
// notes, made of the sentences that score best.
type SummarizeHandler struct{}

// TextSummary is the result of "text.summarize".
type TextSummary struct {
	// Summary is the chosen sentences in their original order, separated by
	// a space, or by a line break after one without closing punctuation
	// (such as a bullet item).
	Summary string `json:"summary"`
	// Sentences are the chosen sentences in their original order.
	Sentences []SummarySentence `json:"sentences"`
	// TotalSentences is how many sentences the text has, headings left out.
	TotalSentences int `json:"totalSentences"`
}

// SummarySentence is one sentence of a summary.
type SummarySentence struct {
	// Index numbers the sentences of the text from 0, headings left out.
	Index int `json:"index"`
	// Text is the sentence with its runs of white space made single spaces
	// and any bullet marker left out.
	Text string `json:"text"`
	// Score is the sentence's score relative to the best one's, from 0 to 1.
	Score float64 `json:"score"`
}

type summarizeInput struct {
	text      string
	sentences int
}

const summarizeExample = `{"text": "The party reached Thornwall Keep at dusk. ...", "sentences": 3}`

func parseSummarizeInput(input json.RawMessage) (summarizeInput, error) {
	var in summarizeInput
	f, err := decodeFields(input, summarizeExample, "text", "sentences")
	if err != nil {
		return in, err
	}
	if in.text, err = f.text("text", "the notes to summarize"); err != nil {
		return in, err
	}
	n, ok, err := f.int("sentences", 1, MaxSummarySentences)
	if err != nil {
		return in, err
	}
	in.sentences = DefaultSummarySentences
	if ok {
		in.sentences = int(n)
	}
	return in, nil
}

// ValidateInput checks that input is {"text": T} with T some text of at most
// MaxTextBytes bytes and an optional "sentences" from 1 to
// MaxSummarySentences.
func (SummarizeHandler) ValidateInput(input json.RawMessage) error {
	_, err := parseSummarizeInput(input)
	return err
}

// Handle summarizes the text and returns a TextSummary.
func (SummarizeHandler) Handle(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in, err := parseSummarizeInput(job.Task.Input)
	if err != nil {
		return nil, archivist.Permanent(err)
	}
	res, err := summarize(in.text, in.sentences, newTextMeter(ctx, job, len(in.text)))
	if err != nil {
		return nil, err
	}
	return marshalResult(res)
}

// Scoring.
const (
	// shortSentenceWords: a sentence with fewer content words than this
	// ("Great." or "Loot:") has its score cut in proportion.
	shortSentenceWords = 3
	// nameWeight multiplies the weight of names: words seen capitalised
	// inside sentences and never in lower case.
	nameWeight = 1.5
	// Position bonuses: notes tend to open with what matters, each
	// paragraph with its topic and the last sentence with the outcome.
	firstSentenceBonus = 0.25
	paraStartBonus     = 0.1
	lastSentenceBonus  = 0.1
	// cueBonus is added for each cue word ("killed", "discovered", "agreed")
	// up to maxCueBonus.
	cueBonus    = 0.1
	maxCueBonus = 0.2
)

// cueWords mark the events that session notes are kept for.
var cueWords = wordSet(`killed kill defeated defeat slain slew died dies death discovered discover revealed reveal
	learned learn found agreed agree betrayed betray escaped escape rescued rescue stole stolen recovered recover
	destroyed destroy captured capture decided decide promised promise swore sworn vowed finally ultimately must
	secret truth`)

// summaryWord is a content word of a sentence: its stem, and whether it was
// a capitalised word inside the sentence.
type summaryWord struct {
	stem    string
	capital bool
	lower   bool
}

// summarize scores the sentences of text by the frequency of their content
// words (stop words left out, plurals folded, names weighted up), divided
// by the square root of their number so that long sentences are not
// favoured too much, with bonuses for position and cue words; and returns
// the best n in their original order. Ties go to the earlier sentence.
func summarize(text string, n int, m *textMeter) (*TextSummary, error) {
	m.stage("splitting sentences", 0, 0.4)
	sents, err := splitSentences(text, m)
	if err != nil {
		return nil, err
	}

	m.stage("counting words", 0.4, 0.8)
	words := make([][]summaryWord, len(sents))
	freq := map[string]int{}
	capital, lower := map[string]bool{}, map[string]bool{}
	for i := range sents {
		s := &sents[i]
		if err := s.words(text, func(start, end int, plain bool) error {
			w := text[start:end]
			w = w[:len(w)-possessiveLen(w)]
			lw := strings.ToLower(w)
			if !hasLetter(w) || stopWords[lw] || len([]rune(lw)) < 2 {
				return nil
			}
			sw := summaryWord{stem: stem(lw), capital: plain && isCapitalised(w), lower: isLowerWord(w)}
			words[i] = append(words[i], sw)
			freq[sw.stem]++
			if sw.capital {
				capital[sw.stem] = true
			}
			if sw.lower {
				lower[sw.stem] = true
			}
			return m.at(end)
		}); err != nil {
			return nil, err
		}
	}
	maxFreq := 1
	for _, c := range freq {
		maxFreq = max(maxFreq, c)
	}

	m.stage("scoring", 0.8, 1)
	type scored struct {
		sent  int // in sents
		index int // among the candidates
		score float64
	}
	var cands []scored
	for i := range sents {
		if !sents[i].heading {
			cands = append(cands, scored{sent: i, index: len(cands)})
		}
	}
	best := 0.0
	for c := range cands {
		s := &sents[cands[c].sent]
		if err := m.at(s.frags[0].start); err != nil {
			return nil, err
		}
		ws := words[cands[c].sent]
		seen := map[string]bool{}
		sum, cues := 0.0, 0.0
		for _, w := range ws {
			if seen[w.stem] {
				continue
			}
			seen[w.stem] = true
			weight := float64(freq[w.stem]) / float64(maxFreq)
			if capital[w.stem] && !lower[w.stem] {
				weight *= nameWeight
			}
			sum += weight
			if cueWords[w.stem] {
				cues += cueBonus
			}
		}
		score := sum / math.Sqrt(float64(max(len(ws), 1)))
		if len(ws) < shortSentenceWords {
			score *= float64(len(ws)) / shortSentenceWords
		}
		bonus := 1 + min(cues, maxCueBonus)
		switch {
		case c == 0:
			bonus += firstSentenceBonus
		case s.first:
			bonus += paraStartBonus
		}
		if c > 0 && c == len(cands)-1 {
			bonus += lastSentenceBonus
		}
		cands[c].score = score * bonus
		best = max(best, cands[c].score)
	}

	ranked := slices.Clone(cands)
	slices.SortStableFunc(ranked, func(a, b scored) int {
		return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.index, b.index))
	})
	ranked = ranked[:min(n, len(ranked))]
	slices.SortFunc(ranked, func(a, b scored) int { return cmp.Compare(a.index, b.index) })

	res := &TextSummary{Sentences: []SummarySentence{}, TotalSentences: len(cands)}
	var b strings.Builder
	for i, c := range ranked {
		s := &sents[c.sent]
		t := s.text(text)
		if i > 0 {
			if sents[ranked[i-1].sent].terminated {
				b.WriteByte(' ')
			} else {
				b.WriteByte('\n')
			}
		}
		b.WriteString(t)
		score := 0.0
		if best > 0 {
			score = math.Round(c.score/best*1e4) / 1e4
		}
		res.Sentences = append(res.Sentences, SummarySentence{Index: c.index, Text: t, Score: score})
	}
	res.Summary = b.String()
	return res, nil
}
