package scheduler

import (
	"time"

	"github.com/rpg-archivist/archivist"
)

// proofCheck is the outcome of checking one node's admission proof against
// one verifier. A node's proof changes only when it restarts, so the check
// (an Ed25519 verification) runs once per proof, not at every round.
type proofCheck struct {
	verifier  string
	proof     string
	startedAt time.Time
	ok        bool
}

// maxProofChecks bounds the cache of proof checks; past it, it starts over.
const maxProofChecks = 4096

// proven reports whether node n may get tasks under the cluster secret
// whose verifier is given: always when the cluster has none, else only if
// n's heartbeat carries a proof made with the secret. A node refused is
// logged once per proof.
func (s *Scheduler) proven(n *archivist.Node, verifier string) bool {
	if verifier == "" {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, seen := s.proofs[n.ID]
	if seen && prev.verifier == verifier && prev.proof == n.AdmissionProof && prev.startedAt.Equal(n.StartedAt) {
		return prev.ok
	}
	c := proofCheck{verifier: verifier, proof: n.AdmissionProof, startedAt: n.StartedAt,
		ok: archivist.VerifyAdmission(verifier, n)}
	if s.proofs == nil || len(s.proofs) >= maxProofChecks {
		s.proofs = map[string]proofCheck{}
	}
	s.proofs[n.ID] = c
	if !c.ok {
		why := "its proof does not verify: it was started with another cluster secret"
		if n.AdmissionProof == "" {
			why = "it carries no proof: it was started without the cluster secret"
		}
		s.cfg.Env.Logger.Warn("refused a node that does not prove the cluster secret: it gets no tasks until it restarts with the cluster's --cluster-secret",
			"peer", n.ID, "address", n.Address, "reason", why, "key", archivist.AdmissionKeyFingerprint(verifier))
	} else if seen && !prev.ok {
		s.cfg.Env.Logger.Info("node now proves the cluster secret", "peer", n.ID)
	}
	return c.ok
}
