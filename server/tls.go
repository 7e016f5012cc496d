package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// TLSConfig is the HTTPS setup of a server: a certificate and key in PEM
// files, or a self-signed certificate made at start (for development).
type TLSConfig struct {
	CertFile   string
	KeyFile    string
	SelfSigned bool
}

// Enabled reports whether the server serves HTTPS.
func (c TLSConfig) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" || c.SelfSigned }

// Load returns the tls.Config, with TLS 1.2 at least.
func (c TLSConfig) Load() (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	switch {
	case c.CertFile != "" || c.KeyFile != "":
		if c.CertFile == "" || c.KeyFile == "" {
			return nil, fmt.Errorf("--tls-cert and --tls-key go together")
		}
		cert, err = tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load TLS certificate: %w", err)
		}
	case c.SelfSigned:
		cert, err = SelfSignedCert()
		if err != nil {
			return nil, err
		}
	default:
		return nil, nil
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: tls12Suites, Certificates: []tls.Certificate{cert}}, nil
}

// tls12Suites are the TLS 1.2 cipher suites served: forward-secret AEAD ones
// only. Go's defaults also offer AES-CBC with SHA-1 (no longer recommended,
// and open to padding-oracle attacks in other implementations). TLS 1.3
// suites are not configurable and all AEAD.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// HSTS max-age of HTTPS responses: a year with a certificate of one's own;
// an hour with --tls-self-signed, a development setup where a long pin
// would keep browsers off plain http://localhost ports for long after
// (browsers ignore the header anyway while they distrust the certificate).
const (
	HSTSMaxAge           = 365 * 24 * time.Hour
	HSTSMaxAgeSelfSigned = time.Hour
)

// hstsValue is the Strict-Transport-Security header of c, or "" without TLS.
// It has no includeSubDomains: other hosts under the node's name are not
// ours to pin.
func (c TLSConfig) hstsValue() string {
	switch {
	case !c.Enabled():
		return ""
	case c.SelfSigned:
		return fmt.Sprintf("max-age=%d", int(HSTSMaxAgeSelfSigned.Seconds()))
	}
	return fmt.Sprintf("max-age=%d", int(HSTSMaxAge.Seconds()))
}

// SelfSignedCert makes a certificate for localhost, the loopback addresses
// and this host's name, valid for a year.
func SelfSignedCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, err
	}
	names := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" {
		names = append(names, h)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Archivist (self-signed)"}, CommonName: names[len(names)-1]},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
