package tlsconf_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"

	"github.com/flumego/flume/internal/pki"
	"github.com/flumego/flume/internal/refusal"
	"github.com/flumego/flume/internal/tlsconf"
	"github.com/flumego/flume/node/plugin/plugintest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newPKI makes a CA directory with pki.Init: master, node, node-host7 and client certificates.
func newPKI(t testing.TB) string {
	t.Helper()
	return newPKIAt(t, time.Now())
}

// newPKIAt is newPKI as of now, for a CA that was already valid when a certificate that has
// expired since was issued.
func newPKIAt(t testing.TB, now time.Time) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := (pki.Init{Dir: dir, Nodes: []string{"host7"}, Now: func() time.Time { return now }}).Run(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// issue adds a certificate to the CA directory dir, issued at now for days.
func issue(t testing.TB, dir, role, name string, now time.Time, days int) tlsconf.Files {
	t.Helper()
	if _, err := (pki.Issue{Dir: dir, Role: role, Name: name, Days: days, Now: func() time.Time { return now }}).Run(); err != nil {
		t.Fatal(err)
	}
	return files(dir, role+"-"+name)
}

// files names the CA of dir and the certificate and key FILE.pem and FILE-key.pem.
func files(dir, file string) tlsconf.Files {
	return tlsconf.Files{CA: filepath.Join(dir, pki.CAFile), Cert: filepath.Join(dir, file+".pem"), Key: filepath.Join(dir, file+"-key.pem")}
}

func mustLoad(t testing.TB, f tlsconf.Files) *tlsconf.Provider {
	t.Helper()
	p, err := tlsconf.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// readFile returns the content of path.
func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replace writes data to path as a rotation tool would: a new file renamed over the old one.
func replace(t testing.TB, path string, data ...[]byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, bytes.Join(data, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// install copies the CA bundle cas, and the certificate and key of src, to the files of dst.
func install(t testing.TB, dst tlsconf.Files, src tlsconf.Files, cas ...string) {
	t.Helper()
	var bundle [][]byte
	for _, ca := range cas {
		bundle = append(bundle, readFile(t, ca))
	}
	replace(t, dst.CA, bundle...)
	replace(t, dst.Key, readFile(t, src.Key))
	replace(t, dst.Cert, readFile(t, src.Cert))
}

// refusals is a refusal.Log writing to a buffer the test reads.
type refusals struct {
	log *refusal.Log
	buf *plugintest.Buffer
}

func newRefusals() refusals {
	buf := &plugintest.Buffer{}
	return refusals{log: refusal.New(slog.New(slog.NewTextHandler(buf, nil)), time.Minute), buf: buf}
}

// server is a gRPC health server on a loopback port.
type server struct {
	addr string

	mu      sync.Mutex
	clients []*x509.Certificate // each call's verified client certificate, nil for none
}

// startServer serves the health service with creds until the test ends.
func startServer(t testing.TB, creds credentials.TransportCredentials) *server {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &server{addr: lis.Addr().String()}
	var opts []grpc.ServerOption
	if creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	opts = append(opts, grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		srv.mu.Lock()
		srv.clients = append(srv.clients, tlsconf.PeerCertificate(ctx))
		srv.mu.Unlock()
		return h(ctx, req)
	}))
	s := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(s, health.NewServer())
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = s.Serve(lis)
	}()
	t.Cleanup(func() {
		s.Stop()
		<-served
	})
	return srv
}

// lastClient returns the CommonName of the last call's client certificate: "" for none,
// "<no call>" before the first call.
func (s *server) lastClient() string {
	c, ok := s.lastClientCert()
	switch {
	case !ok:
		return "<no call>"
	case c == nil:
		return ""
	}
	return c.Subject.CommonName
}

// lastClientCert returns the last call's client certificate, and false before the first call.
func (s *server) lastClientCert() (*x509.Certificate, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.clients) == 0 {
		return nil, false
	}
	return s.clients[len(s.clients)-1], true
}

// dial opens a client connection to addr with creds, closed when the test ends.
func dial(t testing.TB, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// check makes one health call on conn and returns the certificate the server presented.
func check(conn *grpc.ClientConn) (*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var p peer.Peer
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Peer(&p)); err != nil {
		return nil, err
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return nil, errors.New("the call's peer has no TLS certificate")
	}
	return info.State.PeerCertificates[0], nil
}

// checkOnce dials addr with creds, makes one health call and closes the connection.
func checkOnce(t testing.TB, addr string, creds credentials.TransportCredentials) (*x509.Certificate, error) {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return check(conn)
}

// rawClient returns gRPC credentials that trust the CA file ca and present the certificate of
// f (none when f.Cert is empty), for clients that a Provider would not load.
func rawClient(t testing.TB, ca string, f tlsconf.Files) credentials.TransportCredentials {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(readFile(t, ca)) {
		t.Fatalf("%s holds no certificate", ca)
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: tlsconf.MasterName}
	if f.Cert != "" {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			t.Fatal(err)
		}
		// Present it even when the server names other acceptable CAs, as an attacker would.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	return credentials.NewTLS(cfg)
}

// serial returns c's serial number, "" for nil.
func serial(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	return c.SerialNumber.String()
}
