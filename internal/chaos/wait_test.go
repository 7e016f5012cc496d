package chaos

import "testing"

// TestWaitReplicas: the nodes wait for one replica by default where there
// are replicas, for none elsewhere, and as told otherwise.
func TestWaitReplicas(t *testing.T) {
	for _, c := range []struct {
		topology string
		set      int
		want     int
	}{
		{TopologyStandalone, 0, 0},
		{TopologyCluster, 0, 0},
		{TopologyClusterReplicas, 0, 1},
		{TopologySentinel, 0, 1},
		{TopologySentinel, -1, 0},
		{TopologyClusterReplicas, 2, 2},
	} {
		r := &runner{o: Options{Topology: c.topology, WaitReplicas: c.set}}
		if got := r.waitReplicas(); got != c.want {
			t.Errorf("%s with WaitReplicas %d: %d, want %d", c.topology, c.set, got, c.want)
		}
	}
}
