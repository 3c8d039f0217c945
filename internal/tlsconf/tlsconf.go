// Package tlsconf is where a Flume daemon's TLS material lives: it loads the PEM files named by
// flume.tls.ca, flume.tls.cert and flume.tls.key, checks them, and hands out TLS configs and
// gRPC credentials that always use the material loaded last, so certificates rotate without
// a restart and without dropping a session.
//
// # Roles, not host names
//
// A certificate carries its holder's role as a DNS SAN, as Consul's server.<dc>.consul does:
// every master certificate has MasterName, every node certificate NodeName, every admin client
// certificate ClientName. A client verifies a server by the role it expects, never by the host
// it dialed (a client of a master verifies MasterName, an agent dialing a collector NodeName),
// so addresses can change without reissuing certificates. A leaf's Subject CommonName is the
// holder's identity: host7's node certificate has CN host7, the shared node certificate CN
// node.flume.
//
// # Reloading
//
// A Provider holds one consistent load of the files behind an atomic pointer. Reload (called
// on SIGHUP, or by Watch when the files change) builds the next load and swaps it in only if
// every check passes; a bad file leaves the previous material in use. The configs handed out
// are built once and look the pointer up on every handshake: a server's GetConfigForClient
// returns the current certificate and client CA pool, a client presents the current
// certificate and verifies the server against the current CA pool in VerifyConnection.
// Connections already established keep the session they negotiated.
//
// # Refusals
//
// A server's failed handshakes are logged through a refusal.Log under "tls <peer ip>", saying
// why (a plaintext client, an unknown CA, no certificate, an expired one, the wrong role). A
// client's failed handshake returns a HandshakeError that says what is wrong in the operator's
// terms and which property to look at.
package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// Role names: the DNS SAN every certificate of a role carries, and the server name a client
// verifies.
const (
	// MasterName is the role of the masters, verified by every client of a master port.
	MasterName = "master.flume"
	// NodeName is the role of the nodes (agents and collectors), verified by an agent dialing
	// a collector and by a master port that admits nodes.
	NodeName = "node.flume"
	// ClientName is the role of the admin clients (flumectl).
	ClientName = "client.flume"
)

// defaultHandshakeTimeout caps every handshake, whatever deadline the caller allows.
const defaultHandshakeTimeout = 10 * time.Second

// Errors of loading the files and of handshakes; the errors returned wrap them.
var (
	// ErrIncomplete: some but not all of the three files are given.
	ErrIncomplete = errors.New("flume.tls.ca, flume.tls.cert and flume.tls.key are set together or not at all")
	// ErrNoPEM: a file holds no PEM block of the kind wanted.
	ErrNoPEM = errors.New("no PEM block of type")
	// ErrKeyMismatch: the private key is not the key of the certificate.
	ErrKeyMismatch = errors.New("does not match the public key of certificate")
	// ErrExpired: the certificate's NotAfter has passed.
	ErrExpired = errors.New("expired")
	// ErrNotYetValid: the certificate's NotBefore has not come.
	ErrNotYetValid = errors.New("not yet valid")
	// ErrUntrusted: the certificate does not chain to the CA bundle.
	ErrUntrusted = errors.New("is not signed by the CA bundle")
	// ErrNoClientCert: a client of a port that verifies clients sent no certificate.
	ErrNoClientCert = errors.New("client sent no certificate")
	// ErrWrongRole: a verified client certificate lacks every role the port admits.
	ErrWrongRole = errors.New("lacks the role")
	// ErrClientAuth: flume.tls.client.auth is neither none nor verify.
	ErrClientAuth = errors.New("want none or verify")
	// ErrNoCertificate: a Provider without a certificate (LoadClient) was asked to serve.
	ErrNoCertificate = errors.New("no certificate to serve: flume.tls.cert and flume.tls.key are not set")
	// ErrNoServerName: a client config was asked for without the role name to verify.
	ErrNoServerName = errors.New("no server name to verify the server's certificate against")
)

// ClientAuth is what a server asks of its clients (flume.tls.client.auth).
type ClientAuth int

const (
	// NoClientCert asks for no client certificate: any client that speaks TLS may connect.
	NoClientCert ClientAuth = iota
	// VerifyClientCert requires a client certificate signed by the CA bundle, for client
	// authentication, and of one of the port's roles when it names any (mutual TLS).
	VerifyClientCert
)

// ParseClientAuth parses flume.tls.client.auth: "none" or "verify".
func ParseClientAuth(s string) (ClientAuth, error) {
	switch s {
	case "none":
		return NoClientCert, nil
	case "verify":
		return VerifyClientCert, nil
	}
	return 0, fmt.Errorf("%q: %w", s, ErrClientAuth)
}

// String returns the property value of a: "none" or "verify".
func (a ClientAuth) String() string {
	if a == VerifyClientCert {
		return "verify"
	}
	return "none"
}

// Provider hands out TLS configs and gRPC credentials built on the files it loaded last. Safe
// for concurrent use; the configs and credentials it returns may be used by any number of
// connections at once.
type Provider struct {
	files            Files
	caOnly           bool // LoadClient: the certificate and key may be absent
	now              func() time.Time
	handshakeTimeout time.Duration
	watchDebounce    time.Duration

	reload sync.Mutex // serializes Reload, so a slow read cannot overwrite a newer one
	cur    atomic.Pointer[material]
}

// Load reads and checks f: every file exists and holds PEM of the right kind, the key is the
// certificate's, the leaf is valid now and chains to the CA bundle. Errors name the file; the
// caller prefixes the property. f with some but not all files set fails with ErrIncomplete.
func Load(f Files) (*Provider, error) {
	return load(f, false, time.Now)
}

// LoadClient is Load for a client that may have no certificate of its own (flumectl trusting
// the masters' CA without mutual TLS): f.CA is required, and f.Cert and f.Key are given
// together or not at all. Without them the Provider presents no certificate, Leaf returns
// nil, and its ServerConfig refuses every handshake with ErrNoCertificate.
func LoadClient(f Files) (*Provider, error) {
	return load(f, true, time.Now)
}

func load(f Files, caOnly bool, now func() time.Time) (*Provider, error) {
	m, err := readMaterial(f, now(), caOnly)
	if err != nil {
		return nil, err
	}
	p := &Provider{files: f, caOnly: caOnly, now: now, handshakeTimeout: defaultHandshakeTimeout, watchDebounce: defaultWatchDebounce}
	p.cur.Store(m)
	return p, nil
}

// Reload re-reads the files with Load's checks. On success new handshakes use the new
// material and existing connections keep theirs; on any error the previous material stays in
// use and the error is returned.
func (p *Provider) Reload() error {
	_, err := p.reloadChanged()
	return err
}

// reloadChanged is Reload that also reports whether the certificates differ from before.
func (p *Provider) reloadChanged() (changed bool, err error) {
	p.reload.Lock()
	defer p.reload.Unlock()
	m, err := readMaterial(p.files, p.now(), p.caOnly)
	if err != nil {
		return false, err
	}
	changed = !sameMaterial(p.cur.Load(), m)
	p.cur.Store(m)
	return changed, nil
}

// Files returns the files p reads.
func (p *Provider) Files() Files { return p.files }

// Leaf returns the current leaf certificate, nil for a LoadClient Provider without one. The
// caller must not modify it.
func (p *Provider) Leaf() *x509.Certificate {
	if m := p.cur.Load(); m.cert != nil {
		return m.cert.Leaf
	}
	return nil
}

// ServerConfig returns a server config that presents the current certificate. With
// VerifyClientCert a client must present a certificate that chains to the current CA bundle,
// for client authentication, and that has one of roles as a DNS SAN when roles are given (a
// node certificate cannot pass as a master on a port that admits only MasterName); with
// NoClientCert none is asked for.
//
// Every handshake is built by GetConfigForClient from the material current then, with
// session tickets off so that no client skips verification against it by resuming. NextProtos
// set on the returned config before it serves (as net/http and gRPC do) apply to every
// handshake. TLS 1.2 is the minimum.
func (p *Provider) ServerConfig(auth ClientAuth, roles ...string) *tls.Config {
	roles = slices.Clone(roles)
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		c, err := serverConfigFor(p.cur.Load(), auth, roles)
		if err != nil {
			return nil, err
		}
		c.NextProtos = cfg.NextProtos
		return c, nil
	}
	return cfg
}

// serverConfigFor is the config of one server handshake with m.
func serverConfigFor(m *material, auth ClientAuth, roles []string) (*tls.Config, error) {
	if m.cert == nil {
		return nil, ErrNoCertificate
	}
	c := &tls.Config{
		MinVersion:             tls.VersionTLS12,
		Certificates:           []tls.Certificate{*m.cert},
		SessionTicketsDisabled: true,
	}
	if auth == VerifyClientCert {
		// crypto/tls verifies a certificate that is given (and sends the precise alert: unknown
		// CA, expired); VerifyConnection requires one and checks the role, with typed errors.
		c.ClientAuth = tls.VerifyClientCertIfGiven
		c.ClientCAs = m.roots
		c.VerifyConnection = func(cs tls.ConnectionState) error { return checkClient(cs, roles) }
	}
	return c, nil
}

// checkClient requires a verified client certificate with one of roles, if any.
func checkClient(cs tls.ConnectionState, roles []string) error {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		if len(cs.PeerCertificates) == 0 {
			return ErrNoClientCert
		}
		return fmt.Errorf("client certificate %w", ErrUntrusted) // crypto/tls verifies a given one; never reached
	}
	leaf := cs.VerifiedChains[0][0]
	if len(roles) == 0 || slices.ContainsFunc(roles, func(r string) bool { return HasRole(leaf, r) }) {
		return nil
	}
	return fmt.Errorf("client certificate of %q (DNS names %s) %w %s", leaf.Subject.CommonName,
		strings.Join(leaf.DNSNames, ", "), ErrWrongRole, strings.Join(roles, " or "))
}

// ClientConfig returns a client config that presents the current certificate to servers that
// ask for one and accepts a server only if its certificate chains to the current CA bundle,
// is for server authentication, and carries serverName (a role name such as MasterName) as a
// DNS SAN, whatever address was dialed.
//
// crypto/tls verifies only against a fixed RootCAs, so the config sets InsecureSkipVerify and
// does the whole verification in VerifyConnection instead, against the roots current at the
// handshake (crypto/tls's ExampleConfig_verifyConnection). A copy of the config must keep
// VerifyConnection, or it verifies nothing. With an empty serverName every handshake fails.
func (p *Provider) ClientConfig(serverName string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         serverName,
		InsecureSkipVerify: true, // verified in VerifyConnection, against the current roots
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if m := p.cur.Load(); m.cert != nil {
				return m.cert, nil
			}
			return &tls.Certificate{}, nil // none to present: the server decides
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyServer(cs, p.cur.Load().roots, serverName)
		},
	}
}

// verifyServer is the verification crypto/tls would do with RootCAs set to roots and
// ServerName set to serverName.
func verifyServer(cs tls.ConnectionState, roots *x509.CertPool, serverName string) error {
	if serverName == "" {
		return ErrNoServerName
	}
	if len(cs.PeerCertificates) == 0 {
		return errors.New("server presented no certificate")
	}
	opts := x509.VerifyOptions{
		DNSName:       serverName,
		Roots:         roots,
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(opts)
	return err
}

// HasRole reports whether cert carries role (MasterName, NodeName, ClientName) as a DNS SAN.
// A nil cert has no role.
func HasRole(cert *x509.Certificate, role string) bool {
	if cert == nil || role == "" {
		return false
	}
	return slices.ContainsFunc(cert.DNSNames, func(n string) bool { return strings.EqualFold(n, role) })
}

// PeerCertificate returns the verified leaf certificate of the peer of a gRPC call, on the
// server side of a port that verifies clients; nil when the call has no peer, did not come
// over TLS, or the client presented no verified certificate. The caller must not modify it.
func PeerCertificate(ctx context.Context) *x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return nil
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return nil
	}
	return info.State.VerifiedChains[0][0]
}
