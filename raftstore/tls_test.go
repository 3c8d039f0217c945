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
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"

	"github.com/flumego/flume/internal/testwait"
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

// leaf issues a certificate for 127.0.0.1 usable as server and client, with the role
// "master" as its organizational unit.
func (ca *testCA) leaf(t testing.TB, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name, OrganizationalUnit: []string{"master"}},
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

// mutual sets cfg's TLS the plain way: a certificate for name, client certificates
// required and verified against ca, servers verified against ca under the dialled host.
func (ca *testCA) mutual(t testing.TB, name string, cfg *Config) {
	cert := ca.leaf(t, name)
	cfg.TLS = &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    ca.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
	cfg.ClientTLS = &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: ca.pool}
}

// reloadable sets cfg's TLS in the shape flumed builds for certificate reload: the server
// side picks its config per connection (GetConfigForClient), the client side skips Go's
// verification and verifies the chain against a swappable pool and the peer's role in
// VerifyConnection. raftstore must use both as given for these hooks to run.
func (ca *testCA) reloadable(t testing.TB, name string, cfg *Config) {
	cert := ca.leaf(t, name)
	var pool atomic.Pointer[x509.CertPool]
	pool.Store(ca.pool)
	cfg.TLS = &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return &tls.Config{
				Certificates: []tls.Certificate{cert},
				ClientCAs:    pool.Load(),
				ClientAuth:   tls.RequireAndVerifyClientCert,
			}, nil
		},
	}
	cfg.ClientTLS = &tls.Config{
		Certificates:       []tls.Certificate{cert},
		InsecureSkipVerify: true, // verified in VerifyConnection against the current pool
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no server certificate")
			}
			leaf := cs.PeerCertificates[0]
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool.Load(), Intermediates: inter}); err != nil {
				return err
			}
			if !slices.Contains(leaf.Subject.OrganizationalUnit, "master") {
				return fmt.Errorf("server %q is not a master", leaf.Subject.CommonName)
			}
			return nil
		},
	}
}

func TestMutualTLSEnsembleReplicates(t *testing.T) {
	ca := newCA(t, "ensemble")
	// Both shapes of config in one ensemble: each dials and accepts the other.
	c := newCluster(t, 3, func(i int, cfg *Config) {
		if i == 0 {
			ca.mutual(t, "m0", cfg)
			return
		}
		ca.reloadable(t, fmt.Sprint("m", i), cfg)
	})
	l := c.waitLeader(t, 5*time.Second)
	applyN(t, l, "k", 10)
	c.waitConverged(t, l.fsm.hash())
}

// forgedVote is raft's wire form of a RequestVote that claims to come from a follower of
// c's leader l, for a much later term, as part of a leadership transfer: a leader that
// decodes it steps down.
func forgedVote(t testing.TB, c *testCluster, l *testMember) []byte {
	t.Helper()
	f := c.followers(l)[0]
	term := l.store.raft.CurrentTerm() + 100
	req := raft.RequestVoteRequest{
		RPCHeader: raft.RPCHeader{
			ProtocolVersion: raft.ProtocolVersionMax,
			ID:              []byte(f.id),
			Addr:            []byte(f.addr),
		},
		Term:               term,
		LastLogIndex:       1 << 40,
		LastLogTerm:        term,
		LeadershipTransfer: true,
	}
	var body []byte
	if err := codec.NewEncoderBytes(&body, &codec.MsgpackHandle{}).Encode(&req); err != nil {
		t.Fatal(err)
	}
	return append([]byte{rpcRequestVote}, body...)
}

// TestForgedVoteDeposesALeaderWithoutTLS shows what the refusal below protects against: on
// a plaintext ensemble one packet from anyone makes the leader step down.
func TestForgedVoteDeposesALeaderWithoutTLS(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.waitLeader(t, 5*time.Second)
	term := l.store.raft.CurrentTerm()
	conn, err := net.Dial("tcp", l.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(forgedVote(t, c, l)); err != nil {
		t.Fatal(err)
	}
	testwait.UntilNil(t, 5*time.Second, "the leader jumps to the forged term", func() error {
		if now := l.store.raft.CurrentTerm(); now < term+100 {
			return fmt.Errorf("term %d", now)
		}
		return nil
	})
}

// stranger is one way of knocking on the raft port without the ensemble's certificate.
type stranger struct {
	name string
	dial func() (net.Conn, error)
}

func strangers(t testing.TB, addr string, ca, other *testCA) []stranger {
	tlsDial := func(conf *tls.Config) func() (net.Conn, error) {
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Second}, Config: conf}
		return func() (net.Conn, error) { return d.Dial("tcp", addr) }
	}
	return []stranger{
		{"plaintext", func() (net.Conn, error) { return net.DialTimeout("tcp", addr, time.Second) }},
		{"no certificate", tlsDial(&tls.Config{RootCAs: ca.pool})},
		{"certificate from another CA", tlsDial(&tls.Config{
			RootCAs:      ca.pool,
			Certificates: []tls.Certificate{other.leaf(t, "m9")},
		})},
	}
}

// knock dials as s, sends payload and returns what came back before the connection
// ended; a refused handshake returns nothing.
func (s stranger) knock(payload []byte) []byte {
	conn, err := s.dial()
	if err != nil {
		return nil // refused during the handshake (TLS 1.2, or the server hung up first)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	_, _ = conn.Write(payload)
	got, _ := io.ReadAll(conn)
	return got
}

// raftAnswered reports whether b looks like a raft response: it starts with the msgpack
// string of the error, where a refusal sends nothing, or a plaintext TLS alert record.
func raftAnswered(b []byte) bool {
	const tlsAlert = 0x15
	return len(b) > 0 && b[0] != tlsAlert
}

func TestStrangersAreRefusedAndCannotDisturbTheLeader(t *testing.T) {
	ca, other := newCA(t, "ensemble"), newCA(t, "impostor")
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c := newCluster(t, 3, func(i int, cfg *Config) {
		ca.reloadable(t, fmt.Sprint("m", i), cfg)
		cfg.Logger = logger
	})
	l := c.waitLeader(t, 5*time.Second)
	applyN(t, l, "k", 5)
	c.waitConverged(t, l.fsm.hash())
	vote := forgedVote(t, c, l)
	term := l.store.raft.CurrentTerm()

	for _, s := range strangers(t, l.addr, ca, other) {
		if got := s.knock(vote); raftAnswered(got) {
			t.Fatalf("%s: raft answered %q", s.name, got)
		}
	}

	// Hammer the leader's port with all three for a while; leadership must not move.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var attempts atomic.Int64
	for _, s := range strangers(t, l.addr, ca, other) {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if got := s.knock(vote); raftAnswered(got) {
					t.Errorf("%s: raft answered %q", s.name, got)
					return
				}
				attempts.Add(1)
			}
		})
	}
	endHammer := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer endHammer()
	holds(t, 1500*time.Millisecond, "the leader keeps its term while strangers knock", func() error {
		if !l.store.IsLeader() {
			return errors.New("the leader stepped down")
		}
		if now := l.store.raft.CurrentTerm(); now != term {
			return fmt.Errorf("term moved from %d to %d", term, now)
		}
		return nil
	})
	endHammer()
	n := attempts.Load() + 3
	if n < 30 {
		t.Fatalf("only %d attempts in the hammer; the test proves little", n)
	}
	applyN(t, l, "after", 5)
	c.waitConverged(t, l.fsm.hash())

	const refused = "raft connection refused: tls handshake failed"
	if got := strings.Count(logs.String(), refused); got != 1 {
		t.Fatalf("%d attempts logged %d refusals, want 1 (once per remote IP and quiet period):\n%s",
			n, got, logs.String())
	}
	t.Logf("%d stranger attempts refused, 1 line logged", n)
}

func TestMemberWithWrongCACannotJoin(t *testing.T) {
	good, bad := newCA(t, "ensemble"), newCA(t, "impostor")
	c := newCluster(t, 3, func(i int, cfg *Config) {
		if i == 2 {
			bad.mutual(t, "m2", cfg)
			return
		}
		good.mutual(t, fmt.Sprint("m", i), cfg)
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

func TestStalledHandshakesAreBoundedAndEndedByClose(t *testing.T) {
	ca := newCA(t, "ensemble")
	c := newCluster(t, 1, func(_ int, cfg *Config) {
		ca.mutual(t, "m0", cfg)
		cfg.DialTimeout = 30 * time.Second // Close, not the timeout, must end them
	})
	m := c.waitLeader(t, 5*time.Second)
	stream := m.store.stream
	handshaking := func() int {
		stream.mu.Lock()
		defer stream.mu.Unlock()
		return stream.handshakes.held
	}

	// Connections that never send a ClientHello hold handshake slots, up to the bound.
	var stalled []net.Conn
	t.Cleanup(func() {
		for _, conn := range stalled {
			_ = conn.Close()
		}
	})
	for range maxHandshakesPerIP {
		conn, err := net.Dial("tcp", m.addr)
		if err != nil {
			t.Fatal(err)
		}
		stalled = append(stalled, conn)
	}
	testwait.UntilNil(t, 5*time.Second, "every stalled connection in a handshake", func() error {
		if n := handshaking(); n != maxHandshakesPerIP {
			return fmt.Errorf("%d handshakes in progress", n)
		}
		return nil
	})
	// One more from the same IP is closed at once, not after the handshake timeout.
	extra, err := net.Dial("tcp", m.addr)
	if err != nil {
		t.Fatal(err)
	}
	stalled = append(stalled, extra)
	_ = extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("a connection beyond the handshake bound was kept open")
	}

	start := time.Now()
	c.stop(t, m)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("close took %v with stalled handshakes; it must end them at once", d)
	}
	// goleak in TestMain checks that no handshake goroutine outlived the store.
}

func TestClientCertificateIsRequiredEvenIfGetConfigForClientForgetsIt(t *testing.T) {
	ca := newCA(t, "ensemble")
	logs := &lockedBuffer{}
	c := newCluster(t, 1, func(_ int, cfg *Config) {
		ca.mutual(t, "m0", cfg)
		lax := &tls.Config{Certificates: cfg.TLS.Certificates} // asks for no client certificate
		cfg.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return lax, nil }}
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	m := c.waitLeader(t, 5*time.Second)
	s := stranger{"no certificate", func() (net.Conn, error) {
		return tls.Dial("tcp", m.addr, &tls.Config{RootCAs: ca.pool})
	}}
	if got := s.knock([]byte{rpcRequestVote, 0x80}); raftAnswered(got) {
		t.Fatalf("raft answered %q", got)
	}
	testwait.UntilNil(t, 5*time.Second, "the refusal logged", func() error {
		if !strings.Contains(logs.String(), "no client certificate") {
			return errors.New("not logged")
		}
		return nil
	})
}
