package redistest

import (
	"testing"
	"time"
)

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

func TestReplicatedClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six servers")
	}
	c := StartReplicatedCluster(t)
	ctx := t.Context()
	m, err := c.MasterOf(ctx, "{archivist:test}:x")
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.ReplicaOf(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	m.Kill()
	at := WaitMaster(t, r.Addr, 15*time.Second)
	t.Logf("replica %s promoted %s after the kill", r.Addr, at.Sub(killed).Round(time.Millisecond))
	// The other nodes learn of the promotion a moment later.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		now, err := c.MasterOf(ctx, "{archivist:test}:x")
		if err == nil && now == r {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot master now %v (%v), want %s", now, err, r.Addr)
		}
	}
}

func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five servers")
	}
	s := StartSentinel(t)
	ctx := t.Context()
	if addr, err := s.MasterAddr(ctx); err != nil || addr != s.Master.Addr {
		t.Fatalf("master %q (%v), want %s", addr, err, s.Master.Addr)
	}
	killed := time.Now()
	s.Master.Kill()
	promoted := WaitMaster(t, s.Replica.Addr, 15*time.Second)
	switched := s.WaitSwitched(t, s.Replica.Addr, 15*time.Second)
	t.Logf("replica promoted %s, every sentinel switched %s after the kill",
		promoted.Sub(killed).Round(time.Millisecond), switched.Sub(killed).Round(time.Millisecond))
}
