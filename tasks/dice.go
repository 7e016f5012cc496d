package tasks

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of a dice expression. They keep every total within 32 bits and the
// cost of one roll bounded.
const (
	// MaxDiceCount is the most dice in one group (the N of NdM), and also the
	// most dice in a whole expression.
	MaxDiceCount = 1000
	// MaxDiceSides is the most sides a die may have (the M of NdM).
	MaxDiceSides = 1_000_000
	// MaxDiceConstant is the largest integer constant term.
	MaxDiceConstant = 1_000_000
	// MaxDiceTerms is the most terms (dice groups and constants) in one
	// expression.
	MaxDiceTerms = 100
)

// DiceExpr is a parsed dice expression such as "4d6kh3+2". It is immutable
// and safe for concurrent use.
type DiceExpr struct {
	terms []diceTerm
}

// diceTerm is one signed term: a constant when sides is 0, otherwise a group
// of count dice of which keep are summed (the highest, or the lowest when
// keepLow is set).
type diceTerm struct {
	negative bool
	constant int
	count    int
	sides    int
	keep     int
	keepLow  bool
	// explicitKeep records whether kh/kl was written, so String keeps it.
	explicitKeep bool
}

// DiceError reports a malformed dice expression.
type DiceError struct {
	// Expr is the expression as given.
	Expr string
	// Pos is the 1-based byte position of the problem, or 0 when the problem
	// is the expression as a whole.
	Pos int
	// Msg says what is wrong.
	Msg string
}

// Error returns the message with the expression and the position.
func (e *DiceError) Error() string {
	if e.Pos == 0 {
		return fmt.Sprintf("dice expression %q: %s", e.Expr, e.Msg)
	}
	return fmt.Sprintf("dice expression %q: at position %d: %s", e.Expr, e.Pos, e.Msg)
}

// ParseDice parses a dice expression: one or more terms joined by "+" or "-"
// (the first may carry a sign too), where a term is an integer constant or a
// dice group "NdM" (N defaults to 1) optionally followed by "khK" or "klK" to
// keep only the K highest or lowest dice. Letters are case-insensitive and
// whitespace may separate tokens. Errors are *DiceError.
func ParseDice(expr string) (*DiceExpr, error) {
	p := diceParser{src: expr}
	return p.parse()
}

type diceParser struct {
	src string
	pos int // byte offset of the next unread byte
}

func (p *diceParser) fail(pos int, format string, args ...any) error {
	return &DiceError{Expr: p.src, Pos: pos + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *diceParser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// peek returns the next byte, lower-cased, or 0 at the end.
func (p *diceParser) peek() byte {
	if p.pos >= len(p.src) {
		return 0
	}
	c := p.src[p.pos]
	if 'A' <= c && c <= 'Z' {
		c += 'a' - 'A'
	}
	return c
}

// found describes the next character for an error message.
func (p *diceParser) found() string {
	if p.pos >= len(p.src) {
		return "the end of the expression"
	}
	r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
	if r == utf8.RuneError {
		return fmt.Sprintf("byte %#x", p.src[p.pos])
	}
	return strconv.QuoteRune(r)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number reads an unsigned integer; what names it in errors. Values past
// numberCap are returned as numberCap, which is over every limit, so callers
// need only check their own bounds.
func (p *diceParser) number(what string) (n, start int, err error) {
	start = p.pos
	for p.pos < len(p.src) && isDigit(p.src[p.pos]) {
		n = min(n*10+int(p.src[p.pos]-'0'), numberCap)
		p.pos++
	}
	if p.pos == start {
		return 0, start, p.fail(start, "expected %s, found %s", what, p.found())
	}
	return n, start, nil
}

// numberCap bounds what number returns; it exceeds every limit.
const numberCap = 1 << 30

func (p *diceParser) parse() (*DiceExpr, error) {
	if strings.TrimSpace(p.src) == "" {
		return nil, &DiceError{Expr: p.src, Msg: "expression is empty; try something like 2d6+3"}
	}
	e := &DiceExpr{}
	totalDice := 0
	p.skipSpace()
	negative := false
	if c := p.peek(); c == '+' || c == '-' {
		negative = c == '-'
		p.pos++
	}
	for {
		p.skipSpace()
		start := p.pos
		t, err := p.term()
		if err != nil {
			return nil, err
		}
		t.negative = negative
		if len(e.terms) == MaxDiceTerms {
			return nil, p.fail(start, "too many terms; the limit is %d", MaxDiceTerms)
		}
		totalDice += t.count
		if totalDice > MaxDiceCount {
			return nil, p.fail(start, "too many dice; an expression may roll at most %d in all", MaxDiceCount)
		}
		e.terms = append(e.terms, t)

		p.skipSpace()
		switch c := p.peek(); c {
		case 0:
			return e, nil
		case '+', '-':
			negative = c == '-'
			p.pos++
		default:
			return nil, p.fail(p.pos, "expected + or - between terms, found %s", p.found())
		}
	}
}

// term reads a constant or a dice group.
func (p *diceParser) term() (diceTerm, error) {
	var t diceTerm
	n, nAt, haveNumber := 0, p.pos, isDigit(p.peek())
	if haveNumber {
		n, nAt, _ = p.number("a number")
		p.skipSpace()
	}
	if p.peek() != 'd' {
		if !haveNumber {
			return t, p.fail(p.pos, "expected a number or a dice group such as 2d6, found %s", p.found())
		}
		if n > MaxDiceConstant {
			return t, p.fail(nAt, "constant %s is over the limit of %d", p.src[nAt:nAt+digitsAt(p.src, nAt)], MaxDiceConstant)
		}
		t.constant = n
		return t, nil
	}

	// A dice group; the number read so far, if any, is the count.
	t.count = 1
	if haveNumber {
		if n < 1 || n > MaxDiceCount {
			return t, p.fail(nAt, "number of dice must be between 1 and %d, got %s", MaxDiceCount, p.src[nAt:nAt+digitsAt(p.src, nAt)])
		}
		t.count = n
	}
	p.pos++ // the 'd'
	p.skipSpace()
	sides, sidesAt, err := p.number("the number of sides after \"d\"")
	if err != nil {
		return t, err
	}
	if sides < 1 || sides > MaxDiceSides {
		return t, p.fail(sidesAt, "number of sides must be between 1 and %d, got %s", MaxDiceSides, p.src[sidesAt:p.pos])
	}
	t.sides = sides
	t.keep = t.count

	p.skipSpace()
	if p.peek() != 'k' {
		return t, nil
	}
	keepAt := p.pos
	p.pos++
	switch p.peek() {
	case 'h':
	case 'l':
		t.keepLow = true
	default:
		return t, p.fail(p.pos, "expected h or l after k (kh3 keeps the 3 highest dice, kl1 the lowest), found %s", p.found())
	}
	p.pos++
	p.skipSpace()
	k, kAt, err := p.number("how many dice to keep")
	if err != nil {
		return t, err
	}
	if k < 1 || k > t.count {
		return t, p.fail(kAt, "%s%s keeps %s of %d dice; it must keep between 1 and %d",
			strings.ToLower(p.src[keepAt:keepAt+2]), p.src[kAt:p.pos], p.src[kAt:p.pos], t.count, t.count)
	}
	t.keep = k
	t.explicitKeep = true
	return t, nil
}

// digitsAt returns how many ASCII digits start s[i:].
func digitsAt(s string, i int) int {
	n := 0
	for i+n < len(s) && isDigit(s[i+n]) {
		n++
	}
	return n
}

// termRange is the smallest and largest value a term adds to the total.
func (t diceTerm) termRange() (lo, hi int) {
	if t.sides == 0 {
		lo, hi = t.constant, t.constant
	} else {
		lo, hi = t.keep, t.keep*t.sides
	}
	if t.negative {
		return -hi, -lo
	}
	return lo, hi
}

// Min returns the smallest total the expression can roll.
func (e *DiceExpr) Min() int {
	sum := 0
	for _, t := range e.terms {
		lo, _ := t.termRange()
		sum += lo
	}
	return sum
}

// Max returns the largest total the expression can roll.
func (e *DiceExpr) Max() int {
	sum := 0
	for _, t := range e.terms {
		_, hi := t.termRange()
		sum += hi
	}
	return sum
}

// diceCount is how many dice one roll throws.
func (e *DiceExpr) diceCount() int {
	n := 0
	for _, t := range e.terms {
		n += t.count
	}
	return n
}

// String returns the expression in normal form: no spaces, lower-case
// letters, every dice count written out ("d20" becomes "1d20").
func (e *DiceExpr) String() string {
	var b strings.Builder
	for i, t := range e.terms {
		switch {
		case t.negative:
			b.WriteByte('-')
		case i > 0:
			b.WriteByte('+')
		}
		if t.sides == 0 {
			b.WriteString(strconv.Itoa(t.constant))
			continue
		}
		fmt.Fprintf(&b, "%dd%d", t.count, t.sides)
		if t.explicitKeep {
			if t.keepLow {
				fmt.Fprintf(&b, "kl%d", t.keep)
			} else {
				fmt.Fprintf(&b, "kh%d", t.keep)
			}
		}
	}
	return b.String()
}

// Roll rolls the expression once with r, or with the global source of
// math/rand/v2 when r is nil, and returns the total.
func (e *DiceExpr) Roll(r *rand.Rand) int {
	roll := rand.IntN
	if r != nil {
		roll = r.IntN
	}
	var scratch [64]int
	sum := 0
	for _, t := range e.terms {
		v := t.roll(roll, scratch[:0])
		if t.negative {
			v = -v
		}
		sum += v
	}
	return sum
}

// roll returns the unsigned value of one term; buf is scratch space.
func (t diceTerm) roll(intN func(int) int, buf []int) int {
	if t.sides == 0 {
		return t.constant
	}
	switch {
	case t.keep == t.count:
		sum := 0
		for range t.count {
			sum += intN(t.sides) + 1
		}
		return sum
	case t.keep == 1:
		// Keeping one die needs only the extreme, not a sort.
		best := intN(t.sides) + 1
		for range t.count - 1 {
			v := intN(t.sides) + 1
			if (t.keepLow && v < best) || (!t.keepLow && v > best) {
				best = v
			}
		}
		return best
	}
	for range t.count {
		buf = append(buf, intN(t.sides)+1)
	}
	slices.Sort(buf)
	kept := buf[len(buf)-t.keep:]
	if t.keepLow {
		kept = buf[:t.keep]
	}
	sum := 0
	for _, v := range kept {
		sum += v
	}
	return sum
}
