package graph

import (
	"errors"
	"testing"
)

// TestOnFreshStack: f's results are the caller's, and a panic of f goes on
// in the caller with its value (gqlgen's transport recovers panics of an
// operation on the goroutine that runs it: they must reach it).
func TestOnFreshStack(t *testing.T) {
	var got int
	onFreshStack(func() { got = 42 })
	if got != 42 {
		t.Fatalf("got %d", got)
	}
	boom := errors.New("boom")
	func() {
		defer func() {
			if p := recover(); p != boom {
				t.Fatalf("recovered %v, want the panic of f", p)
			}
		}()
		onFreshStack(func() { panic(boom) })
		t.Fatal("no panic")
	}()
}
