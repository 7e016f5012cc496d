package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rpg-archivist/archivist"
)

// Cluster admission by the cluster secret (--cluster-secret): see
// archivist.DeriveAdmissionKey. The cluster configuration holds the
// secret's verifier, never the secret.
//
//   - The cluster has no verifier and this node has a secret: the node
//     records its verifier. From then on only nodes started with the same
//     secret get tasks; nodes already running without it get none until
//     they restart with it (the leader logs each once).
//   - The cluster's verifier is this node's: the node joins.
//   - This node has another secret, or none: while another node of the
//     cluster is running, it refuses to start, saying what to do. The API
//     cannot change the verifier either. Changing or removing the secret
//     takes stopping every node: the first node to start again, finding no
//     other running, records its own verifier (or none) and logs it.
//
// On the embedded store the node is alone, so the last case always applies:
// its options win, as for the rest of the configuration.

// admissionRetries bounds the attempts to record a verifier while the
// configuration changes under us.
const admissionRetries = 5

// admit applies the rules above once the cluster configuration is loaded.
func (m *Main) admit(ctx context.Context) error {
	cluster := m.Opts.Cluster
	mine := ""
	if m.Opts.ClusterSecret != "" {
		mine = archivist.DeriveAdmissionKey(m.Opts.ClusterSecret, cluster).Verifier()
	}
	cur := m.Settings()
	for range admissionRetries {
		if cur.AdmissionKey == mine {
			m.setSettings(cur)
			return nil
		}
		running, err := m.runningPeers(ctx, cur)
		if err != nil {
			return err
		}
		if cur.AdmissionKey != "" && len(running) > 0 {
			return admissionRefused(cluster, cur, mine, running)
		}
		next := cur
		next.AdmissionKey = mine
		next.UpdatedBy = m.nodeID
		saved, err := m.Store.UpdateConfig(ctx, next, cur.Version)
		if archivist.IsCode(err, archivist.CodeConflict) {
			if cur, err = m.Store.Config(ctx); err != nil {
				return fmt.Errorf("read cluster config: %w", err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("record the cluster secret's verifier: %w", err)
		}
		m.setSettings(saved)
		m.logAdmissionChange(cur.AdmissionKey, mine, running)
		return nil
	}
	return errors.New("cluster config keeps changing under us; try again")
}

// runningPeers are the ids of the other nodes of the cluster that are
// running now: those whose heartbeat is fresh, and a node that changed the
// configuration within as long (it may be starting, not yet beating).
func (m *Main) runningPeers(ctx context.Context, cfg archivist.Config) ([]string, error) {
	nodes, err := m.Store.ListNodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	now := time.Now()
	var out []string
	for _, n := range nodes {
		if n.ID != m.nodeID && !n.Offline(now, cfg.MissedHeartbeats) {
			out = append(out, n.ID)
		}
	}
	fresh := time.Duration(max(cfg.MissedHeartbeats, 1)) * max(cfg.HeartbeatInterval, archivist.DefaultHeartbeatInterval)
	if by := cfg.UpdatedBy; by != "" && by != m.nodeID && !slices.Contains(out, by) && now.Sub(cfg.UpdatedAt) < fresh {
		out = append(out, by)
	}
	slices.Sort(out)
	return out, nil
}

// admissionRefused is the error of a node whose secret is not the
// cluster's: it says what to do.
func admissionRefused(cluster string, cur archivist.Config, mine string, running []string) error {
	recorded := ""
	if cur.UpdatedBy != "" {
		recorded = fmt.Sprintf(", config version %d by %s", cur.Version, cur.UpdatedBy)
	}
	others := strings.Join(running, ", ")
	if mine == "" {
		return fmt.Errorf("cluster %q requires a cluster secret (key %s%s) and this node was started without one: "+
			"start it with the cluster's secret in ARCHIVIST_CLUSTER_SECRET (or --cluster-secret). "+
			"To stop requiring a secret, stop every node of the cluster (running now: %s) and start them without it",
			cluster, archivist.AdmissionKeyFingerprint(cur.AdmissionKey), recorded, others)
	}
	return fmt.Errorf("cluster %q was started with another cluster secret (key %s%s; this node's key is %s): "+
		"start this node with the cluster's secret in ARCHIVIST_CLUSTER_SECRET (or --cluster-secret). "+
		"To change the cluster's secret, stop every node of the cluster (running now: %s) and start them with the new one",
		cluster, archivist.AdmissionKeyFingerprint(cur.AdmissionKey), recorded,
		archivist.AdmissionKeyFingerprint(mine), others)
}

// logAdmissionChange says what recording this node's verifier changed.
func (m *Main) logAdmissionChange(old, mine string, running []string) {
	log := m.Logger.With("key", archivist.AdmissionKeyFingerprint(mine))
	switch {
	case old == "":
		log.Info("recorded the cluster secret's verifier: from now on only nodes started with this secret get tasks")
		if len(running) > 0 {
			log.Warn("nodes running without this cluster secret get no tasks until they restart with it", "nodes", running)
		}
	case mine == "":
		log.Warn("removed the cluster secret: no other node of the cluster is running and this one was started without it, so any node may now join",
			"old_key", archivist.AdmissionKeyFingerprint(old))
	default:
		log.Warn("replaced the cluster secret: no other node of the cluster is running and this one was started with another secret",
			"old_key", archivist.AdmissionKeyFingerprint(old))
	}
}

// admissionProof is the proof this node's heartbeats carry (empty without
// a secret). It signs the node id and start time, which do not change: it is
// made once.
func (m *Main) admissionProof() string {
	m.proofOnce.Do(func() {
		if m.Opts.ClusterSecret != "" {
			m.proof = archivist.DeriveAdmissionKey(m.Opts.ClusterSecret, m.Opts.Cluster).Prove(m.nodeID, m.startedAt)
		}
	})
	return m.proof
}
