package app

import (
	"errors"
	"fmt"
	"net"

	"github.com/rpg-archivist/archivist/auth"
	"github.com/rpg-archivist/archivist/cli"
	"github.com/rpg-archivist/archivist/server"
)

// validateSecurity reads the API keys and checks the TLS and origin options
// and the safe-default rule: a node that listens beyond loopback needs keys,
// or --insecure.
func (o *Options) validateSecurity() []error {
	keys, errs := o.readKeys()
	o.keys = keys
	if o.MaxWebsockets == 0 || o.MaxSubs == 0 || o.MaxPendingWS == 0 {
		errs = append(errs, fmt.Errorf("--max-websockets, --max-pending-websockets and --max-subscriptions: at least 1, or -1 for no limit"))
	}
	if o.RateLimit < 0 || o.RateBurst < 0 {
		errs = append(errs, fmt.Errorf("--rate-limit and --rate-burst must not be negative (0 turns the limit off)"))
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		errs = append(errs, fmt.Errorf("--tls-cert and --tls-key go together"))
	}
	if o.TLSSelfSigned && o.TLSCert != "" {
		errs = append(errs, fmt.Errorf("--tls-self-signed and --tls-cert: choose one"))
	}
	for _, p := range cli.SplitList(o.AllowedOrigins) {
		if err := server.CheckOriginPattern(p); err != nil {
			errs = append(errs, fmt.Errorf("--allowed-origins: %v", err))
		}
	}
	if len(errs) == 0 && o.keys.Len() == 0 && !o.Insecure && !loopbackAddr(o.HTTP) {
		errs = append(errs, fmt.Errorf("--http %s listens beyond loopback, and no API keys are set: anyone who can reach it could submit tasks, change the configuration and remove nodes.\n"+
			"Give keys with --api-keys or --api-keys-file (make one with: archivist token create --role admin),\n"+
			"or pass --insecure to run without authentication on a network you trust", o.HTTP))
	}
	return errs
}

// readKeys reads the keys of --api-keys and --api-keys-file.
func (o *Options) readKeys() (*auth.Keyring, []error) {
	var errs []error
	keys := &auth.Keyring{}
	if err := keys.AddList(o.APIKeys); err != nil {
		errs = append(errs, fmt.Errorf("--api-keys: %v", err))
	}
	if o.APIKeysFile != "" {
		if err := keys.AddFile(o.APIKeysFile); err != nil {
			errs = append(errs, fmt.Errorf("--api-keys-file: %v", err))
		}
	}
	return keys, errs
}

// authRequired reports whether the API needs a key.
func (o *Options) authRequired() bool { return o.keys.Len() > 0 }

// insecure reports whether the node listens beyond loopback without keys.
func (o *Options) insecure() bool {
	return o.keys.Len() == 0 && !loopbackAddr(o.HTTP)
}

// tls is the HTTPS setup of the options.
func (o *Options) tls() server.TLSConfig {
	return server.TLSConfig{CertFile: o.TLSCert, KeyFile: o.TLSKey, SelfSigned: o.TLSSelfSigned}
}

// loopbackAddr reports whether host:port binds only loopback: the name
// localhost or a literal loopback IP. An empty host, 0.0.0.0, ::, names
// under .localhost (which the resolver may send to DNS) and every other
// name listen beyond it.
func loopbackAddr(hostport string) bool {
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		return false
	}
	return server.LoopbackHost(hostport)
}

// authMode says how the API is guarded, for the start-up log.
func authMode(o *Options) string {
	switch {
	case o.authRequired():
		return fmt.Sprintf("API keys (%d)", o.keys.Len())
	case o.insecure():
		return "OFF (--insecure)"
	}
	return "off (loopback only)"
}

// ReloadKeys reads --api-keys and --api-keys-file again (on SIGHUP) and
// admits exactly those keys from now on: a removed key stops working at
// once for new requests, and for new operations of open WebSockets. It
// cannot turn authentication on or off, which takes a restart.
func (m *Main) ReloadKeys() error {
	o := m.Opts
	next, errs := o.readKeys()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if (next.Len() == 0) != (o.keys.Len() == 0) {
		return fmt.Errorf("the reload would turn authentication %s: restart the node for that; the keys in force stay", map[bool]string{true: "off", false: "on"}[next.Len() == 0])
	}
	o.keys.Replace(next)
	m.Logger.Info("API keys reloaded", "keys", next.Len())
	return nil
}
