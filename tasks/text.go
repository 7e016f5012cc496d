package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	archivist "github.com/rpg-archivist/archivist"
)

// MaxTextBytes bounds the "text" of the text task types, measured in UTF-8
// after JSON decoding. The task input limit already keeps it about this
// size; the check catches inputs whose decoding grows (invalid UTF-8 becomes
// U+FFFD, three bytes for one).
const MaxTextBytes = archivist.MaxInputBytes

// How the text types check their context and report progress. Shorter texts
// take milliseconds and report no progress.
const (
	textProgressMinBytes = 64 << 10
	textCheckBytes       = 8 << 10
	textReportStep       = 0.1
)

// text returns the required string field name, which must hold some
// non-space text of at most MaxTextBytes bytes. what says what the text is
// for, in the message when it is missing.
func (f fields) text(name, what string) (string, error) {
	s, ok, err := f.string(name)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%s is required: %s", name, what)
	}
	if len(s) > MaxTextBytes {
		return "", fmt.Errorf("%s is %d bytes; the limit is %d", name, len(s), MaxTextBytes)
	}
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("%s must not be empty", name)
	}
	return s, nil
}

// boolOr returns the boolean field name, or def when it is absent.
func (f fields) boolOr(name string, def bool) (bool, error) {
	if !f.has(name) {
		return def, nil
	}
	return f.bool(name)
}

// textMeter checks the context and reports progress while a text task works
// through its input, in stages that each cover a share of the progress bar
// and go through the text once. Positions are byte offsets in the text.
type textMeter struct {
	ctx    context.Context
	job    *archivist.Job // nil: no progress reports
	total  int
	label  string
	lo, hi float64
	next   int     // the position at which to check again
	last   float64 // the fraction last reported
}

func newTextMeter(ctx context.Context, job *archivist.Job, textLen int) *textMeter {
	m := &textMeter{ctx: ctx, total: max(textLen, 1)}
	if textLen >= textProgressMinBytes {
		m.job = job
	}
	return m
}

// stage starts a pass over the text that takes progress from lo to hi.
func (m *textMeter) stage(label string, lo, hi float64) {
	m.label, m.lo, m.hi, m.next = label, lo, hi, 0
}

// at notes that the current pass has reached pos. Every textCheckBytes it
// returns ctx.Err() if the context has ended, and reports progress if it
// moved on by textReportStep.
func (m *textMeter) at(pos int) error {
	if pos < m.next {
		return nil
	}
	m.next = pos + textCheckBytes
	if err := m.ctx.Err(); err != nil {
		return err
	}
	if m.job != nil {
		f := m.lo + (m.hi-m.lo)*min(1, float64(pos)/float64(m.total))
		if f-m.last >= textReportStep {
			m.job.ReportProgress(f, fmt.Sprintf("%s: %d%%", m.label, int(100*float64(pos)/float64(m.total))))
			m.last = f
		}
	}
	return nil
}

// marshalResult encodes a result without HTML escaping (so that "<" in notes
// stays one byte) and refuses one over archivist.MaxResultBytes.
func marshalResult(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(b) > archivist.MaxResultBytes {
		return nil, archivist.Permanent(fmt.Errorf("the result would be %d bytes; the limit is %d", len(b), archivist.MaxResultBytes))
	}
	return b, nil
}

// Words.
//
// A word is a run of letters, digits and combining marks; an apostrophe or a
// hyphen between two such runes joins them ("Elowen's", "half-orc"). Words
// never hold spaces or line breaks.

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.In(r, unicode.Mn, unicode.Mc)
}

func isWordJoiner(r rune) bool {
	return r == '\'' || r == '’' || r == '-' || r == '‐'
}

// nextWord returns the byte range of the first word of s at or after i, or
// start == -1 when there is none.
func nextWord(s string, i int) (start, end int) {
	start = -1
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if isWordRune(r) {
			start = i
			i += size
			break
		}
		i += size
	}
	if start < 0 {
		return -1, -1
	}
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if isWordRune(r) {
			i += size
			continue
		}
		if isWordJoiner(r) && i+size < len(s) {
			if r2, _ := utf8.DecodeRuneInString(s[i+size:]); isWordRune(r2) {
				i += size
				continue
			}
		}
		break
	}
	return start, i
}

// possessiveLen is the length in bytes of a possessive "'s" (or "’s") that
// ends w, or 0. The word that remains must be at least one rune long.
func possessiveLen(w string) int {
	for _, suffix := range []string{"'s", "'S", "’s", "’S"} {
		if len(w) > len(suffix) && strings.HasSuffix(w, suffix) {
			return len(suffix)
		}
	}
	return 0
}

func hasLetter(w string) bool {
	for _, r := range w {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

// isCapitalised reports whether w starts with an upper-case letter.
func isCapitalised(w string) bool {
	r, _ := utf8.DecodeRuneInString(w)
	return unicode.IsUpper(r) || unicode.IsTitle(r)
}

// isLowerWord reports whether w starts with a lower-case letter.
func isLowerWord(w string) bool {
	r, _ := utf8.DecodeRuneInString(w)
	return unicode.IsLower(r)
}

// isAllCaps reports whether w has two or more letters, all upper case.
func isAllCaps(w string) bool {
	letters := 0
	for _, r := range w {
		if unicode.IsLetter(r) {
			if !unicode.IsUpper(r) {
				return false
			}
			letters++
		}
	}
	return letters >= 2
}

// stem folds simple English plurals so that "goblins" and "goblin" count as
// one word. w is lower case.
func stem(w string) string {
	switch {
	case len(w) > 4 && strings.HasSuffix(w, "ies"):
		return w[:len(w)-3] + "y"
	case len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") &&
		!strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		return w[:len(w)-1]
	}
	return w
}

// Sentences.

// span is a byte range of the text.
type span struct{ start, end int }

// sentence is one sentence of a text: the pieces of the text it spans (one
// per line it is on, without bullet or heading markers).
type sentence struct {
	frags []span
	// para numbers the paragraphs from 0; a run of bullet items is one
	// paragraph.
	para int
	// first is set on the first sentence of a paragraph.
	first bool
	// heading is set on headings and title lines, which are not sentences
	// proper: a summary leaves them out.
	heading bool
	// terminated is set when the sentence ends with punctuation.
	terminated bool
}

// text returns the sentence with its whitespace runs (line breaks included)
// replaced by single spaces.
func (s *sentence) text(src string) string {
	var b strings.Builder
	for _, f := range s.frags {
		for _, w := range strings.Fields(src[f.start:f.end]) {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(w)
		}
	}
	return b.String()
}

// words calls fn for each word of the sentence with its byte range and
// whether only white space separates it from the word before (false for the
// first word, and after any punctuation). A line break between the
// sentence's fragments counts as a space.
func (s *sentence) words(src string, fn func(start, end int, plain bool) error) error {
	first, clean := true, true // clean: the gap since the last word is all space
	for _, f := range s.frags {
		pos := f.start
		for {
			start, end := nextWord(src[:f.end], pos)
			if start < 0 {
				break
			}
			clean = clean && strings.TrimSpace(src[pos:start]) == ""
			if err := fn(start, end, clean && !first); err != nil {
				return err
			}
			first, clean, pos = false, true, end
		}
		clean = clean && strings.TrimSpace(src[pos:f.end]) == ""
	}
	return nil
}

// Sentence ends and what may follow them.
func isTerminator(r rune) bool { return r == '.' || r == '!' || r == '?' || r == '…' }
func isCloser(r rune) bool {
	return r == '"' || r == '\'' || r == '”' || r == '’' || r == ')' || r == ']' || r == '»' || r == '*' || r == '_'
}

// Abbreviations after which a full stop does not end a sentence.
var abbreviations = wordSet(`mr mrs ms dr st mt ft sr jr lt capt sgt col gen prof rev hon fr
	vs etc e.g i.e eg ie cf approx no nos vol ch pg pp p fig ca al`)

// splitSentences splits text into sentences. Blank lines end paragraphs;
// a line starting with a bullet ("-", "*", "+", "•" or "1." and a space)
// starts a new sentence; a Markdown heading ("# ...") and a title line (a
// short line opening a paragraph, without closing punctuation, or ending
// with a colon) are headings. Other line breaks are spaces, so hard-wrapped
// text reads as it should. Within a line, ".", "!", "?" and "…" (followed
// by any closing quotes or brackets) end a sentence when a space or the end
// of the line follows and the next word does not start in lower case; a
// full stop after a common abbreviation ("Mr.", "Mt.", "e.g.") or an
// initial ("J.") does not.
func splitSentences(text string, m *textMeter) ([]sentence, error) {
	var (
		out     []sentence
		cur     *sentence // the open sentence
		para    = -1
		newPara = true
		inList  bool // the line before was part of a bullet item
		// textEnd is where the last non-space text ends: a title line must
		// have something after it.
		textEnd = len(strings.TrimRightFunc(text, unicode.IsSpace))
	)
	flush := func() {
		if cur != nil && len(cur.frags) > 0 {
			out = append(out, *cur)
		}
		cur = nil
	}
	open := func() *sentence {
		if cur == nil {
			cur = &sentence{para: para, first: len(out) == 0 || out[len(out)-1].para != para}
		}
		return cur
	}
	startPara := func() {
		flush()
		para++
		newPara = false
	}
	for pos := 0; pos < len(text); {
		lineEnd, next := lineBounds(text, pos)
		if err := m.at(pos); err != nil {
			return nil, err
		}
		cs, ce := trimSpan(text, pos, lineEnd)
		indented := cs > pos
		switch {
		case cs == ce || isRule(text[cs:ce]):
			flush()
			newPara, inList = true, false
		case headingMarker(text[cs:ce]) > 0:
			startPara()
			hs, he := trimSpan(text, cs+headingMarker(text[cs:ce]), ce)
			he = cs + len(strings.TrimRight(text[cs:he], "# \t"))
			if hs < he {
				out = append(out, sentence{frags: []span{{hs, he}}, para: para, first: true, heading: true})
			}
			newPara, inList = true, false
		case bulletMarker(text[cs:ce]) > 0:
			// A list is a paragraph of its own.
			if newPara || !inList {
				startPara()
			}
			flush()
			inList = true
			if err := splitLine(text, cs+bulletMarker(text[cs:ce]), ce, open, flush, m); err != nil {
				return nil, err
			}
			// A bullet item ends at the end of its line, unless the next line
			// is indented to continue it.
			if !continuesItem(text, next) {
				flush()
			}
		case newPara && ce < textEnd && isTitleLine(text, cs, ce, next):
			startPara()
			out = append(out, sentence{frags: []span{{cs, ce}}, para: para, first: true, heading: true})
			newPara = true
		default:
			// Prose after a list starts a paragraph, unless it is indented
			// to continue the last item.
			if newPara || (inList && !indented) {
				startPara()
				inList = false
			}
			if err := splitLine(text, cs, ce, open, flush, m); err != nil {
				return nil, err
			}
		}
		pos = next
	}
	flush()
	return out, nil
}

// splitLine adds text[cs:ce], one line's content, to the open sentence,
// closing it at each sentence end.
func splitLine(text string, cs, ce int, open func() *sentence, flush func(), m *textMeter) error {
	fragStart := cs
	for i := cs; i < ce; {
		if err := m.at(i); err != nil {
			return err
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if !isTerminator(r) {
			i += size
			continue
		}
		j := i
		for j < ce {
			r, size := utf8.DecodeRuneInString(text[j:])
			if !isTerminator(r) {
				break
			}
			j += size
		}
		runEnd := j
		for j < ce {
			r, size := utf8.DecodeRuneInString(text[j:])
			if !isCloser(r) {
				break
			}
			j += size
		}
		if r, _ := utf8.DecodeRuneInString(text[j:]); j < ce && !unicode.IsSpace(r) {
			i = j // "3.5", "e.g.," and the like
			continue
		}
		if sentenceEnds(text, fragStart, i, runEnd, j) {
			s := open()
			s.frags = append(s.frags, span{fragStart, j})
			s.terminated = true
			flush()
			fragStart, _ = trimSpan(text, j, ce)
		}
		i = j
	}
	if fragStart < ce {
		s := open()
		s.frags = append(s.frags, span{fragStart, ce})
	}
	return nil
}

// sentenceEnds decides whether the terminators text[i:runEnd], followed by
// closers up to j, end a sentence that started at from.
func sentenceEnds(text string, from, i, runEnd, j int) bool {
	// The next word must not start in lower case: "e.g. the" or "“Run!” she
	// said" go on.
	for k := j; k < len(text); {
		r, size := utf8.DecodeRuneInString(text[k:])
		if unicode.IsSpace(r) {
			k += size
			continue
		}
		if unicode.IsLower(r) {
			return false
		}
		break
	}
	if text[i:runEnd] != "." {
		return true
	}
	// The word before a lone full stop: an abbreviation or an initial does
	// not end a sentence.
	k := i
	for k > from {
		r, size := utf8.DecodeLastRuneInString(text[:k])
		if !isWordRune(r) && r != '.' {
			break
		}
		k -= size
	}
	w := strings.Trim(text[k:i], ".")
	if w == "" {
		return true
	}
	if abbreviations[strings.ToLower(w)] {
		return false
	}
	if r, size := utf8.DecodeRuneInString(w); size == len(w) && unicode.IsUpper(r) {
		return false
	}
	return true
}

// lineBounds returns the end of the line starting at pos (before its line
// break) and the start of the next line. "\n", "\r\n" and "\r" end lines.
func lineBounds(text string, pos int) (end, next int) {
	i := strings.IndexAny(text[pos:], "\r\n")
	if i < 0 {
		return len(text), len(text)
	}
	end = pos + i
	if text[end] == '\r' && end+1 < len(text) && text[end+1] == '\n' {
		return end, end + 2
	}
	return end, end + 1
}

// trimSpan trims white space from both ends of text[start:end].
func trimSpan(text string, start, end int) (int, int) {
	s := text[start:end]
	t := strings.TrimLeftFunc(s, unicode.IsSpace)
	start += len(s) - len(t)
	return start, start + len(strings.TrimRightFunc(t, unicode.IsSpace))
}

// isRule reports whether line is a horizontal rule or a Setext underline:
// three or more of "-", "=", "*" or "_" and nothing else but spaces.
func isRule(line string) bool {
	n := 0
	for _, r := range line {
		switch r {
		case '-', '=', '*', '_':
			n++
		case ' ', '\t':
		default:
			return false
		}
	}
	return n >= 3
}

// headingMarker returns the length of a Markdown heading marker ("## ")
// that starts line, or 0.
func headingMarker(line string) int {
	n := 0
	for n < len(line) && line[n] == '#' {
		n++
	}
	if n == 0 || n > 6 || n == len(line) || (line[n] != ' ' && line[n] != '\t') {
		return 0
	}
	return n + 1
}

// bulletMarker returns the length of a list marker ("- ", "* ", "+ ", "• ",
// "– ", "12. ", "3) ", optionally with a task box "[ ] " or "[x] ") that
// starts line, or 0. The marker must be followed by some text.
func bulletMarker(line string) int {
	n := 0
	r, size := utf8.DecodeRuneInString(line)
	switch {
	case r == '-' || r == '*' || r == '+' || r == '•' || r == '–' || r == '—' || r == '·':
		n = size
	case r >= '0' && r <= '9':
		for n < len(line) && n < 4 && line[n] >= '0' && line[n] <= '9' {
			n++
		}
		if n == len(line) || (line[n] != '.' && line[n] != ')') {
			return 0
		}
		n++
	default:
		return 0
	}
	if n == len(line) || (line[n] != ' ' && line[n] != '\t') {
		return 0
	}
	rest := strings.TrimLeft(line[n:], " \t")
	for _, box := range []string{"[ ] ", "[x] ", "[X] "} {
		if strings.HasPrefix(rest, box) {
			rest = strings.TrimLeft(rest[len(box):], " \t")
		}
	}
	if rest == "" {
		return 0
	}
	return len(line) - len(rest)
}

// continuesItem reports whether the line at pos continues a bullet item: it
// is indented and is not a bullet itself.
func continuesItem(text string, pos int) bool {
	if pos >= len(text) || (text[pos] != ' ' && text[pos] != '\t') {
		return false
	}
	end, _ := lineBounds(text, pos)
	cs, ce := trimSpan(text, pos, end)
	return cs < ce && bulletMarker(text[cs:ce]) == 0 && headingMarker(text[cs:ce]) == 0
}

// maxTitleWords is the most words a title line may have.
const maxTitleWords = 8

// isTitleLine reports whether text[cs:ce], the first line of a paragraph and
// not the last line of the text, is a title such as "Session 12 — The
// Siege" or "Loot:": starting with a capital or a digit, short, without
// closing punctuation (or ending with a colon), not ending with a word like
// "and" that carries on, and alone or followed by a line that starts with a
// capital, a digit or a bullet.
func isTitleLine(text string, cs, ce, next int) bool {
	line := text[cs:ce]
	if first, _ := utf8.DecodeRuneInString(line); !unicode.IsUpper(first) && !unicode.IsDigit(first) {
		return false
	}
	last, _ := utf8.DecodeLastRuneInString(line)
	if isTerminator(last) || isCloser(last) || strings.ContainsRune(",;-–—", last) {
		return false
	}
	words, lastWord := 0, ""
	for i := 0; ; {
		start, end := nextWord(line, i)
		if start < 0 {
			break
		}
		words++
		lastWord, i = line[start:end], end
	}
	if words == 0 || words > maxTitleWords || (last != ':' && stopWords[strings.ToLower(lastWord)]) {
		return false
	}
	if last == ':' {
		return true
	}
	end, _ := lineBounds(text, next)
	ns, ne := trimSpan(text, next, end)
	if ns == ne {
		return true
	}
	r, _ := utf8.DecodeRuneInString(text[ns:ne])
	return unicode.IsUpper(r) || unicode.IsDigit(r) || bulletMarker(text[ns:ne]) > 0 || headingMarker(text[ns:ne]) > 0
}

// wordSet makes a set of the white-space separated words of s.
func wordSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// stopWords are common English words that say little about a text: left out
// of summaries' word counts, of keyword indexes, and of names.
var stopWords = wordSet(`a about above after again against all almost also although always am among an and another any
	anyone anything are aren't around as at away back be became because been before being below beside besides
	between both but by can can't cannot could couldn't did didn't do does doesn't doing don't done down during
	each either else enough even ever every everyone everything few first for from further get gets got had hadn't
	has hasn't have haven't having he he'd he'll he's her here here's hers herself him himself his how how's however
	i i'd i'll i'm i've if in instead into is isn't it it's its itself just last later least less let let's like
	made make many may me meanwhile might more most much must mustn't my myself near neither never next no nobody
	none nor not nothing now of off often on once one only onto or other others otherwise ought our ours ourselves
	out over own perhaps quite rather really same shall shan't she she'd she'll she's should shouldn't since so
	some someone something soon still such than that that's the their theirs them themselves then there there's
	these they they'd they'll they're they've this those though through thus to too toward towards under until
	up upon us very was wasn't we we'd we'll we're we've were weren't what what's whatever when when's where
	where's whether which while who who's whoever whom whose why why's will with within without won't would
	wouldn't yes yet you you'd you'll you're you've your yours yourself yourselves also finally eventually
	suddenly afterwards later luckily unfortunately fortunately sadly thankfully somehow anyway besides indeed
	oh ok okay well maybe`)
