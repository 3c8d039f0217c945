// Package pki makes the certificate authority of a Flume ensemble and the certificates it
// signs, in the shape package tlsconf expects: every leaf carries its role as a DNS SAN
// (tlsconf.MasterName, NodeName, ClientName) and its holder's identity as Subject CommonName.
//
// Init makes a directory with a new CA and one certificate per role (plus one per named
// node); Issue adds a certificate signed by that CA. Keys are ECDSA P-256. Files are written
// atomically (a temporary file renamed over the name), private keys 0600 and certificates
// 0644, in a directory created 0700.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/flumego/flume/internal/tlsconf"
)

// Files of a CA directory and validity periods.
const (
	// CAFile is the CA certificate, the file flume.tls.ca names on every host.
	CAFile = "ca.pem"
	// CAKeyFile is the CA's private key: keep it off the hosts that run daemons.
	CAKeyFile = "ca-key.pem"
	// DefaultDays is how long a leaf is valid when Days is zero (the longest validity
	// browsers accepted, a common default of CA tools).
	DefaultDays = 825
	// caYears is how long the CA is valid.
	caYears = 10
	// backdate is how far before now a certificate becomes valid, for clocks a little behind.
	backdate = time.Minute
)

// Roles a certificate is issued for.
const (
	RoleMaster = "master"
	RoleNode   = "node"
	RoleClient = "client"
)

// Errors of Init and Issue; the errors returned wrap them.
var (
	// ErrExists: Init would overwrite a CA and Force is not set.
	ErrExists = errors.New("already exists")
	// ErrNoCA: Issue found no usable CA in the directory.
	ErrNoCA = errors.New("no CA")
	// ErrInvalid: a field of Init or Issue is invalid.
	ErrInvalid = errors.New("invalid")
)

// Init makes a new CA and the ensemble's certificates in Dir:
//
//	ca.pem, ca-key.pem                the CA: 10 years, MaxPathLen 0
//	master.pem, master-key.pem        CN master.flume; SANs master.flume, localhost, Hosts, loopback IPs
//	node.pem, node-key.pem            CN node.flume; SANs node.flume, localhost, Hosts, loopback IPs
//	node-NAME.pem, node-NAME-key.pem  per Nodes entry: CN NAME; SANs node.flume, NAME, localhost, Hosts, loopback IPs
//	client.pem, client-key.pem        CN client.flume; SAN client.flume; client authentication only
//
// Master and node certificates are for server and client authentication (a master dials
// masters, an agent dials collectors). An entry of Hosts that is an IP address becomes an IP
// SAN, any other a DNS SAN.
type Init struct {
	Dir   string           // created 0700 if missing
	Hosts []string         // extra names and addresses of masters and nodes
	Nodes []string         // node names that get a certificate of their own
	Days  int              // validity of the leaves; 0 means DefaultDays
	Force bool             // replace an existing CA (every certificate it signed stops being trusted)
	Now   func() time.Time // nil means time.Now
}

// Run writes the files and returns their paths in the order written. It refuses, with
// ErrExists, to overwrite an existing ca.pem unless Force. On an error the files already
// written are returned with it.
func (i Init) Run() (written []string, err error) {
	now, days, err := common(i.Dir, i.Hosts, i.Days, i.Now)
	if err != nil {
		return nil, err
	}
	for _, n := range i.Nodes {
		if err := checkName("node name", n); err != nil {
			return nil, err
		}
	}
	caPath := filepath.Join(i.Dir, CAFile)
	if _, err := os.Stat(caPath); err == nil && !i.Force {
		return nil, fmt.Errorf("refusing to overwrite %s: it %w, and a new CA invalidates every certificate the old one signed "+
			"(pass --force to replace it, or issue more certificates from it with flumed tls cert)", caPath, ErrExists)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("check for an existing CA: %w", err)
	}
	if err := os.MkdirAll(i.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create directory: %w", err)
	}
	ca, err := newCA(now)
	if err != nil {
		return nil, err
	}
	w := &writer{dir: i.Dir}
	if err := w.pair("ca", ca.certDER, ca.key); err != nil {
		return w.written, err
	}
	leaves := []leaf{
		leafFor(RoleMaster, tlsconf.MasterName, i.Hosts),
		leafFor(RoleNode, tlsconf.NodeName, i.Hosts),
	}
	for _, n := range i.Nodes {
		leaves = append(leaves, leafFor(RoleNode, n, i.Hosts))
	}
	leaves = append(leaves, leafFor(RoleClient, tlsconf.ClientName, nil))
	for _, l := range leaves {
		if err := w.issue(ca, l, now, days); err != nil {
			return w.written, err
		}
	}
	return w.written, w.sync()
}

// Issue makes one more certificate from the CA in Dir, of Role master, node or client, for
// the holder Name (its CommonName), valid Days. The files are ROLE-NAME.pem and
// ROLE-NAME-key.pem (node-host7.pem), or ROLE.pem and ROLE-key.pem when Name is the role's own
// name (node.flume renews node.pem); existing files are replaced. A master or node certificate
// has the SANs Init gives (with Name among them), a client certificate only ClientName.
type Issue struct {
	Dir   string           // holds ca.pem and ca-key.pem
	Role  string           // RoleMaster, RoleNode or RoleClient
	Name  string           // the holder's name: letters, digits, '.', '-', '_'
	Hosts []string         // extra names and addresses, for a master or node
	Days  int              // validity; 0 means DefaultDays
	Now   func() time.Time // nil means time.Now
}

// Run writes the certificate and key and returns their paths. It fails with ErrNoCA when Dir
// holds no CA.
func (i Issue) Run() (written []string, err error) {
	now, days, err := common(i.Dir, i.Hosts, i.Days, i.Now)
	if err != nil {
		return nil, err
	}
	if !slices.Contains([]string{RoleMaster, RoleNode, RoleClient}, i.Role) {
		return nil, fmt.Errorf("role %q %w: want master, node or client", i.Role, ErrInvalid)
	}
	if err := checkName("name", i.Name); err != nil {
		return nil, err
	}
	ca, err := readCA(i.Dir)
	if err != nil {
		return nil, err
	}
	w := &writer{dir: i.Dir}
	if err := w.issue(ca, leafFor(i.Role, i.Name, i.Hosts), now, days); err != nil {
		return w.written, err
	}
	return w.written, w.sync()
}

// common checks what Init and Issue share and returns the time and validity to use.
func common(dir string, hosts []string, days int, now func() time.Time) (time.Time, int, error) {
	if dir == "" {
		return time.Time{}, 0, fmt.Errorf("directory %w: empty", ErrInvalid)
	}
	if days < 0 {
		return time.Time{}, 0, fmt.Errorf("days %w: %d, want a positive number", ErrInvalid, days)
	}
	if days == 0 {
		days = DefaultDays
	}
	for _, h := range hosts {
		if h == "" || strings.ContainsAny(h, " \t\n/\\,") {
			return time.Time{}, 0, fmt.Errorf("host %q %w: want a host name or an IP address", h, ErrInvalid)
		}
	}
	if now == nil {
		now = time.Now
	}
	return now(), days, nil
}

// checkName refuses a holder name that is empty or could not be a file name part and a DNS
// name.
func checkName(what, name string) error {
	if name == "" {
		return fmt.Errorf("%s %w: empty", what, ErrInvalid)
	}
	if strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return fmt.Errorf("%s %q %w: it may not contain a path separator", what, name, ErrInvalid)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return fmt.Errorf("%s %q %w: want letters, digits, '.', '-' and '_' only", what, name, ErrInvalid)
		}
	}
	return nil
}

// leaf describes one certificate to issue.
type leaf struct {
	file  string // base name: FILE.pem and FILE-key.pem
	cn    string
	dns   []string
	ips   []net.IP
	usage []x509.ExtKeyUsage
}

// leafFor returns the certificate of role for the holder name.
func leafFor(role, name string, hosts []string) leaf {
	roleName := map[string]string{RoleMaster: tlsconf.MasterName, RoleNode: tlsconf.NodeName, RoleClient: tlsconf.ClientName}[role]
	l := leaf{file: role + "-" + name, cn: name, dns: []string{roleName}}
	if name == roleName {
		l.file = role
	}
	if role == RoleClient {
		l.usage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		return l
	}
	l.usage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	l.ips = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	for _, h := range append([]string{name, "localhost"}, hosts...) {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(l.ips, ip.Equal) {
				l.ips = append(l.ips, ip)
			}
		} else if !slices.Contains(l.dns, h) {
			l.dns = append(l.dns, h)
		}
	}
	return l
}

// authority is a CA that signs.
type authority struct {
	cert    *x509.Certificate
	certDER []byte
	key     *ecdsa.PrivateKey
}

// newCA makes a CA valid for caYears from now.
func newCA(now time.Time) (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Flume CA " + serial.Text(16)[:8], Organization: []string{"Flume"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(caYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	return &authority{cert: cert, certDER: der, key: key}, nil
}

// newSerial returns a random 127-bit serial number.
func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return serial, nil
}

// sign makes the certificate l with a new key, valid days from now (never past the CA).
func (a *authority) sign(l leaf, now time.Time, days int) (der []byte, key *ecdsa.PrivateKey, err error) {
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key of %s: %w", l.file, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	notAfter := now.AddDate(0, 0, days)
	if notAfter.After(a.cert.NotAfter) {
		notAfter = a.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: l.cn, Organization: []string{"Flume"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  l.usage,
		DNSNames:     l.dns,
		IPAddresses:  l.ips,
	}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate %s: %w", l.file, err)
	}
	return der, key, nil
}
