package tasks

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseDiceAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr     string
		want     string
		min, max int
	}{
		{"d20", "1d20", 1, 20},
		{"D20", "1d20", 1, 20},
		{"1d1", "1d1", 1, 1},
		{"2d6+3", "2d6+3", 5, 15},
		{"  2 d 6 + 3  ", "2d6+3", 5, 15},
		{"4d6kh3+2", "4d6kh3+2", 5, 20},
		{"4D6KH3", "4d6kh3", 3, 18},
		{"4d6 kh 3", "4d6kh3", 3, 18},
		{"2d20kl1", "2d20kl1", 1, 20},
		{"2d20kh2", "2d20kh2", 2, 40},
		{"1d20+1d4-1", "1d20+1d4-1", 1, 23},
		{"1d6-1d6", "1d6-1d6", -5, 5},
		{"-1+d20", "-1+1d20", 0, 19},
		{"+d4", "1d4", 1, 4},
		{"-d4", "-1d4", -4, -1},
		{"7", "7", 7, 7},
		{"0", "0", 0, 0},
		{"3-5", "3-5", -2, -2},
		{"007d06", "7d6", 7, 42},
		{"\t2d8\n+\r1", "2d8+1", 3, 17},
		{"1000d1000000", "1000d1000000", 1000, 1_000_000_000},
		{"1000000", "1000000", 1_000_000, 1_000_000},
		{"500d6+500d6", "500d6+500d6", 1000, 6000},
		{"10d10kl3-2d4kh1", "10d10kl3-2d4kh1", -1, 29},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := ParseDice(tt.expr)
			if err != nil {
				t.Fatalf("ParseDice(%q): %v", tt.expr, err)
			}
			if got := e.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if e.Min() != tt.min || e.Max() != tt.max {
				t.Errorf("range = %d..%d, want %d..%d", e.Min(), e.Max(), tt.min, tt.max)
			}
		})
	}
}

func TestParseDiceRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr    string
		pos     int
		wantMsg string
	}{
		{"", 0, "empty"},
		{"   ", 0, "empty"},
		{"d", 2, "expected the number of sides"},
		{"2d", 3, "expected the number of sides"},
		{"2d6+", 5, "found the end of the expression"},
		{"2d6 3", 5, "expected + or - between terms, found '3'"},
		{"2d6*3", 4, "expected + or - between terms, found '*'"},
		{"++1", 2, "expected a number or a dice group"},
		{"2d6+-1", 5, "expected a number or a dice group"},
		{"0d6", 1, "number of dice must be between 1 and 1000, got 0"},
		{"1001d6", 1, "number of dice must be between 1 and 1000, got 1001"},
		{"99999999999999999999d6", 1, "number of dice must be between 1 and 1000"},
		{"1d0", 3, "number of sides must be between 1 and 1000000, got 0"},
		{"1d1000001", 3, "number of sides must be between 1 and 1000000"},
		{"1000001", 1, "constant 1000001 is over the limit"},
		{"4d6k3", 5, "expected h or l after k"},
		{"4d6kx3", 5, "expected h or l after k"},
		{"4d6kh", 6, "how many dice to keep"},
		{"4d6kh0", 6, "kh0 keeps 0 of 4 dice"},
		{"4d6kl5", 6, "kl5 keeps 5 of 4 dice; it must keep between 1 and 4"},
		{"d6kh2", 5, "keeps 2 of 1 dice"},
		{"2d6kh1kh1", 7, "expected + or - between terms, found 'k'"},
		{"1d20 é", 6, "found 'é'"},
		{"1d20\xff", 5, "byte 0xff"},
		{"600d6+401d6", 7, "too many dice"},
		{strings.Repeat("1+", 100) + "1", 201, "too many terms"},
		{"1.5", 2, "found '.'"},
		{"d%", 2, "expected the number of sides"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := ParseDice(tt.expr)
			if err == nil {
				t.Fatalf("ParseDice(%q) = %v, want an error", tt.expr, e)
			}
			var de *DiceError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is %T, want *DiceError", err, err)
			}
			if de.Pos != tt.pos {
				t.Errorf("Pos = %d, want %d (%v)", de.Pos, tt.pos, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

// TestDiceRollRange rolls each expression many times and checks that every
// total is within Min..Max and that both ends are reached.
func TestDiceRollRange(t *testing.T) {
	t.Parallel()
	tests := []string{"d4", "4d6kh3", "4d6kl3", "3d4kh1", "3d4kl1", "2d6+3", "1d6-1d6", "-d4", "5", "1d1+1d1"}
	for _, expr := range tests {
		t.Run(expr, func(t *testing.T) {
			e, err := ParseDice(expr)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			lo, hi := e.Max()+1, e.Min()-1
			for range 20000 {
				v := e.Roll(r)
				if v < e.Min() || v > e.Max() {
					t.Fatalf("Roll() = %d, outside %d..%d", v, e.Min(), e.Max())
				}
				lo, hi = min(lo, v), max(hi, v)
			}
			if lo != e.Min() || hi != e.Max() {
				t.Errorf("rolled %d..%d in 20000 tries, want the whole range %d..%d", lo, hi, e.Min(), e.Max())
			}
		})
	}
}

// TestDiceKeep checks that kh and kl keep the right dice, by their means.
func TestDiceKeep(t *testing.T) {
	t.Parallel()
	// Exact means: 2d20kh1 = 13.825, 2d20kl1 = 7.175, 4d6kh3 ~ 12.24,
	// 4d6kl3 ~ 8.76; 3d6 = 10.5.
	tests := []struct {
		expr     string
		min, max float64
	}{
		{"2d20kh1", 13.6, 14.05},
		{"2d20kl1", 6.95, 7.4},
		{"4d6kh3", 12.1, 12.4},
		{"4d6kl3", 8.6, 8.9},
		{"3d6", 10.35, 10.65},
		{"3d6kh3", 10.35, 10.65},
		{"5d10kh2", 15.5, 16.2}, // exercises the sorting path
		{"5d10kl2", 5.8, 6.5},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := ParseDice(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(42, 7))
			const n = 50000
			sum := 0
			for range n {
				sum += e.Roll(r)
			}
			if mean := float64(sum) / n; mean < tt.min || mean > tt.max {
				t.Errorf("mean of %d rolls = %.3f, want between %.2f and %.2f", n, mean, tt.min, tt.max)
			}
		})
	}
}

func TestDiceRollNilSource(t *testing.T) {
	t.Parallel()
	e, err := ParseDice("3d6")
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if v := e.Roll(nil); v < 3 || v > 18 {
			t.Fatalf("Roll(nil) = %d, outside 3..18", v)
		}
	}
}

func FuzzParseDice(f *testing.F) {
	for _, s := range []string{"d20", "2d6+3", "4d6kh3+2", "1d20+1d4-1", "2d20kl1", "-3", " 2 D 6 KL 1 ", "1d", "kh"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseDice(s)
		if err != nil {
			var de *DiceError
			if !errors.As(err, &de) {
				t.Fatalf("ParseDice(%q): error %v is %T, want *DiceError", s, err, err)
			}
			if de.Pos < 0 || de.Pos > len(s)+1 {
				t.Fatalf("ParseDice(%q): position %d outside the expression", s, de.Pos)
			}
			return
		}
		if e.Min() > e.Max() {
			t.Fatalf("ParseDice(%q): Min %d > Max %d", s, e.Min(), e.Max())
		}
		norm := e.String()
		e2, err := ParseDice(norm)
		if err != nil {
			t.Fatalf("String() of %q = %q does not parse: %v", s, norm, err)
		}
		if e2.Min() != e.Min() || e2.Max() != e.Max() {
			t.Fatalf("%q: range %d..%d, but its normal form %q has %d..%d", s, e.Min(), e.Max(), norm, e2.Min(), e2.Max())
		}
		if again := e2.String(); again != norm {
			t.Fatalf("normal form is not stable: %q -> %q -> %q", s, norm, again)
		}
		r := rand.New(rand.NewPCG(uint64(len(s)), 1))
		if v := e.Roll(r); v < e.Min() || v > e.Max() {
			t.Fatalf("%q: Roll() = %d outside %d..%d", s, v, e.Min(), e.Max())
		}
	})
}
