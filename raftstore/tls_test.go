package raftstore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// leaf issues a certificate for 127.0.0.1 usable as server and client.
func (ca *testCA) leaf(t testing.TB, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// mutual is a member's TLS config: its certificate, trusting ca both ways.
func (ca *testCA) mutual(t testing.TB, name string) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{ca.leaf(t, name)},
		RootCAs:      ca.pool,
		ClientCAs:    ca.pool,
	}
}

func TestMutualTLSEnsembleReplicates(t *testing.T) {
	ca := newCA(t, "ensemble")
	c := newCluster(t, 3, func(i int, cfg *Config) { cfg.TLS = ca.mutual(t, fmt.Sprint("m", i)) })
	l := c.waitLeader(t, 5*time.Second)
	applyN(t, l, "k", 10)
	c.waitConverged(t, l.fsm.hash())

	// A client without a certificate is turned away even though it trusts the server.
	conn, err := tls.Dial("tcp", l.addr, &tls.Config{RootCAs: ca.pool})
	if err == nil {
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
	}
	if err == nil {
		t.Fatal("a client without a certificate got through to the raft port")
	}
}

func TestMemberWithWrongCACannotJoin(t *testing.T) {
	good, bad := newCA(t, "ensemble"), newCA(t, "impostor")
	c := newCluster(t, 3, func(i int, cfg *Config) {
		if i == 2 {
			cfg.TLS = bad.mutual(t, "m2")
			return
		}
		cfg.TLS = good.mutual(t, fmt.Sprint("m", i))
	})
	outsider := c.members[2]
	c.members = c.members[:2] // waitLeader and waitConverged consider the trusted pair
	l := c.waitLeader(t, 5*time.Second)
	applyN(t, l, "k", 5)
	c.waitConverged(t, l.fsm.hash())
	c.members = append(c.members, outsider) // closed by the cleanup

	holds(t, 3*l.cfg.HeartbeatTimeout, "the outsider stays out", func() error {
		if id, _ := outsider.store.Leader(); id != "" {
			return fmt.Errorf("outsider follows %s", id)
		}
		if outsider.store.IsLeader() {
			return errors.New("outsider leads")
		}
		if n := outsider.fsm.len(); n != 0 {
			return fmt.Errorf("outsider applied %d entries", n)
		}
		return nil
	})
	if _, err := outsider.store.stream.Dial(raft.ServerAddress(l.addr), time.Second); err == nil {
		t.Error("outsider completed a TLS handshake with the leader")
	}
	if _, err := l.store.stream.Dial(raft.ServerAddress(outsider.addr), time.Second); err == nil {
		t.Error("leader completed a TLS handshake with the outsider")
	}
}
