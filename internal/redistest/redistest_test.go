package redistest

import "testing"

func TestStartAndRestart(t *testing.T) {
	s := Start(t)
	if err := Ping(s.Addr); err != nil {
		t.Fatal(err)
	}
	s.Restart()
	if err := Ping(s.Addr); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if Ping(s.Addr) == nil {
		t.Fatal("still answering after Kill")
	}
}

func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three servers")
	}
	c := StartCluster(t)
	if len(c.Addrs()) != 3 {
		t.Fatal(c.Addrs())
	}
}
