package archivist

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Cluster admission. A cluster secret derives an Ed25519 key pair per
// cluster name. The public half, the verifier, is recorded in the cluster
// configuration (Config.AdmissionKey) by the first node started with the
// secret; every node started with it signs its identity (Node.AdmissionProof)
// in its heartbeats, and the leader places tasks only on nodes whose proof
// verifies. The verifier checks proofs but cannot make them, and it does not
// contain the secret, so it may sit in the store and in events; the secret
// itself stays in the memory of the nodes given it.

// admissionKeyPrefix names the scheme of a verifier, so that another can
// follow.
const admissionKeyPrefix = "ed25519:"

// AdmissionKey is the signing key that a cluster secret derives for one
// cluster.
type AdmissionKey struct {
	priv ed25519.PrivateKey
}

// DeriveAdmissionKey derives the admission key of cluster from secret: the
// Ed25519 key whose seed is HMAC-SHA256(secret, "archivist cluster key
// v1|"+cluster). The same secret gives another key in another cluster.
func DeriveAdmissionKey(secret, cluster string) AdmissionKey {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("archivist cluster key v1|" + cluster))
	return AdmissionKey{priv: ed25519.NewKeyFromSeed(mac.Sum(nil))}
}

// Verifier is the public half of the key, as Config.AdmissionKey holds it.
func (k AdmissionKey) Verifier() string {
	pub, _ := k.priv.Public().(ed25519.PublicKey)
	return admissionKeyPrefix + base64.RawStdEncoding.EncodeToString(pub)
}

// Prove returns the proof that node id, started at startedAt, holds the
// secret: a signature over both, which a heartbeat carries.
func (k AdmissionKey) Prove(id string, startedAt time.Time) string {
	return base64.RawStdEncoding.EncodeToString(ed25519.Sign(k.priv, proofMessage(id, startedAt)))
}

// proofMessage is what a proof signs. The cluster is bound by the key; the
// start time makes each run of a node sign something new.
func proofMessage(id string, startedAt time.Time) []byte {
	return []byte("archivist node proof v1|" + id + "|" + strconv.FormatInt(startedAt.UnixNano(), 10))
}

// VerifyAdmission reports whether n carries a proof made with the key whose
// verifier is given (Config.AdmissionKey). A malformed verifier or proof
// does not verify.
func VerifyAdmission(verifier string, n *Node) bool {
	enc, ok := strings.CutPrefix(verifier, admissionKeyPrefix)
	if !ok || n == nil || n.AdmissionProof == "" {
		return false
	}
	pub, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return false
	}
	sig, err := base64.RawStdEncoding.DecodeString(n.AdmissionProof)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(ed25519.PublicKey(pub), proofMessage(n.ID, n.StartedAt), sig)
}

// AdmissionKeyFingerprint is a short form of a verifier for logs and error
// messages, so that operators can tell two apart.
func AdmissionKeyFingerprint(verifier string) string {
	if verifier == "" {
		return "none"
	}
	sum := sha256.Sum256([]byte(verifier))
	return hex.EncodeToString(sum[:6])
}
