package tlsconf_test

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/flumego/flume/internal/pki"
	"github.com/flumego/flume/internal/testwait"
	"github.com/flumego/flume/internal/tlsconf"
)

func TestMutualTLSAdmitsTheRolesOfThePort(t *testing.T) {
	dir := newPKI(t)
	master := mustLoad(t, files(dir, "master"))
	srv := startServer(t, master.ServerCredentials(tlsconf.VerifyClientCert, nil, tlsconf.ClientName, tlsconf.NodeName))
	tests := []struct{ file, wantCN string }{
		{"client", tlsconf.ClientName},
		{"node-host7", "host7"},
		{"node", tlsconf.NodeName},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cert, err := checkOnce(t, srv.addr, mustLoad(t, files(dir, tt.file)).ClientCredentials(tlsconf.MasterName))
			if err != nil {
				t.Fatal(err)
			}
			if serial(cert) != serial(master.Leaf()) {
				t.Fatal("the client saw another certificate than the master's")
			}
			if got := srv.lastClient(); got != tt.wantCN {
				t.Fatalf("PeerCertificate on the server has CN %q, want %q", got, tt.wantCN)
			}
		})
	}
}

func TestNoClientCertAdmitsAClientWithoutCertificate(t *testing.T) {
	dir := newPKI(t)
	srv := startServer(t, mustLoad(t, files(dir, "master")).ServerCredentials(tlsconf.NoClientCert, nil))
	if _, err := checkOnce(t, srv.addr, rawClient(t, files(dir, "master").CA, tlsconf.Files{})); err != nil {
		t.Fatal(err)
	}
	if got := srv.lastClient(); got != "" {
		t.Fatalf("PeerCertificate has CN %q without a client certificate", got)
	}
}

// TestServerRefusesBadClientsAndLogsOncePerPeer runs each bad client three times against a
// master port that verifies clients and admits only admin clients: every call fails, and the
// refusal is logged once, saying why.
func TestServerRefusesBadClientsAndLogsOncePerPeer(t *testing.T) {
	a, b := newPKI(t), newPKI(t)
	master := mustLoad(t, files(a, "master"))
	expired := issue(t, a, pki.RoleClient, "old", time.Now().AddDate(0, 0, -30), 1)
	tests := []struct {
		name   string
		creds  credentials.TransportCredentials
		reason string
	}{
		{"plaintext client", insecure.NewCredentials(), "the client does not speak TLS"},
		{"certificate of another CA", rawClient(t, master.Files().CA, files(b, "client")), "not signed by flume.tls.ca"},
		{"expired certificate", rawClient(t, master.Files().CA, expired), "expired or not yet valid"},
		{"no certificate", rawClient(t, master.Files().CA, tlsconf.Files{}), "the client sent no certificate"},
		{"node certificate on a master port", mustLoad(t, files(a, "node")).ClientCredentials(tlsconf.MasterName),
			"the client certificate has the wrong role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refused := newRefusals()
			srv := startServer(t, master.ServerCredentials(tlsconf.VerifyClientCert, refused.log, tlsconf.ClientName))
			for range 3 {
				if _, err := checkOnce(t, srv.addr, tt.creds); err == nil {
					t.Fatal("the call succeeded")
				}
			}
			testwait.For(t, 10*time.Second, func() bool { return refused.log.Suppressed("tls 127.0.0.1") >= 2 },
				func() string { return "fewer than 3 refusals counted; log:\n" + refused.buf.String() })
			log := refused.buf.String()
			if n := strings.Count(log, "tls handshake refused"); n != 1 {
				t.Fatalf("%d lines logged for 3 refusals from one peer, want 1:\n%s", n, log)
			}
			if !strings.Contains(log, tt.reason) || !strings.Contains(log, "peer=127.0.0.1:") {
				t.Fatalf("log lacks the reason %q or the peer:\n%s", tt.reason, log)
			}
			if srv.lastClient() != "<no call>" {
				t.Fatal("a refused client's call reached the service")
			}
		})
	}
}

// TestClientRefusesServersItCannotTrustAndSaysWhy dials servers a client of a master must not
// accept, and one that refuses the client, and checks the error a caller sees.
func TestClientRefusesServersItCannotTrustAndSaysWhy(t *testing.T) {
	past := time.Now().AddDate(0, 0, -30)
	a, b := newPKIAt(t, past.Add(-time.Hour)), newPKI(t)
	expired := issue(t, a, pki.RoleMaster, "old", past, 1)
	expiredServer, err := tlsconf.LoadAt(expired, past)
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "both-cas.pem")
	if err := os.WriteFile(bundle, append(readFile(t, files(a, "ca").CA), readFile(t, files(b, "ca").CA)...), 0o600); err != nil {
		t.Fatal(err)
	}
	strangerFiles := files(b, "client")
	strangerFiles.CA = bundle // trusts a's master, holds b's certificate
	client := mustLoad(t, files(a, "client"))
	verify := tlsconf.VerifyClientCert
	tests := []struct {
		name   string
		server credentials.TransportCredentials // nil: plaintext
		client *tlsconf.Provider
		want   string
	}{
		{"server of another CA", mustLoad(t, files(b, "master")).ServerCredentials(verify, nil), client,
			"x509: certificate signed by unknown authority (does flume.tls.ca hold the CA that signed its certificate?)"},
		{"node where a master is expected", mustLoad(t, files(a, "node")).ServerCredentials(verify, nil), client,
			"lacks the role master.flume: is that address really a master?"},
		{"expired server certificate", expiredServer.ServerCredentials(verify, nil), client,
			"outside its validity dates"},
		{"plaintext server", nil, client, "the server does not speak TLS"},
		{"server that refuses our CA", mustLoad(t, files(a, "master")).ServerCredentials(verify, nil), mustLoad(t, strangerFiles),
			"the server does not trust the CA that signed flume.tls.cert"},
		{"server that refuses our role", mustLoad(t, files(a, "master")).ServerCredentials(verify, nil, tlsconf.ClientName),
			mustLoad(t, files(a, "node")), "remote error: tls: bad certificate (the server refused flume.tls.cert, "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, tt.server)
			_, err := checkOnce(t, srv.addr, tt.client.ClientCredentials(tlsconf.MasterName))
			if err == nil {
				t.Fatal("the call succeeded")
			}
			prefix := "tls handshake with master.flume at " + srv.addr + ": "
			if !strings.Contains(err.Error(), prefix) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error lacks %q or %q:\n%v", prefix, tt.want, err)
			}
			t.Log(err)
		})
	}
}

// TestConfigsVerifyOutsideGRPC uses the plain tls.Configs on a loopback listener: the client
// config must refuse a wrong role and an empty server name, never skip verification.
func TestConfigsVerifyOutsideGRPC(t *testing.T) {
	dir := newPKI(t)
	master, client := mustLoad(t, files(dir, "master")), mustLoad(t, files(dir, "client"))
	lis, err := tls.Listen("tcp", "127.0.0.1:0", master.ServerConfig(tlsconf.VerifyClientCert, tlsconf.ClientName))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			_ = conn.(*tls.Conn).Handshake()
			_ = conn.Close()
		}
	}()
	defer func() {
		_ = lis.Close()
		<-served
	}()
	tests := []struct {
		serverName string
		want       error // nil: the handshake succeeds
	}{
		{tlsconf.MasterName, nil},
		{tlsconf.NodeName, errors.New("certificate is valid for master.flume")},
		{"", tlsconf.ErrNoServerName},
	}
	for _, tt := range tests {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", lis.Addr().String(), client.ClientConfig(tt.serverName))
		if err == nil {
			state := conn.ConnectionState()
			_ = conn.Close()
			if state.Version < tls.VersionTLS12 {
				t.Errorf("negotiated TLS version %x", state.Version)
			}
		}
		switch {
		case tt.want == nil && err != nil:
			t.Errorf("server name %q: %v", tt.serverName, err)
		case tt.want != nil && (err == nil || !strings.Contains(err.Error(), tt.want.Error())):
			t.Errorf("server name %q: %v, want %v", tt.serverName, err, tt.want)
		}
	}
}

// TestServerHandshakeIsBounded connects and sends nothing: the server must hang up once the
// handshake cap passes, and log why.
func TestServerHandshakeIsBounded(t *testing.T) {
	dir := newPKI(t)
	master := mustLoad(t, files(dir, "master"))
	master.SetHandshakeTimeout(100 * time.Millisecond)
	refused := newRefusals()
	srv := startServer(t, master.ServerCredentials(tlsconf.VerifyClientCert, refused.log))
	conn, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("read from a silent connection: %v, want the server to hang up", err)
	}
	testwait.For(t, 10*time.Second, func() bool { return strings.Contains(refused.buf.String(), "did not finish the handshake in time") },
		func() string { return "no timeout logged:\n" + refused.buf.String() })
}

// TestLoadClientTrustsWithACAAlone is flumectl with flume.tls.ca only: it verifies the master
// and presents no certificate, which a port that verifies clients refuses.
func TestLoadClientTrustsWithACAAlone(t *testing.T) {
	dir := newPKI(t)
	master := mustLoad(t, files(dir, "master"))
	p, err := tlsconf.LoadClient(tlsconf.Files{CA: master.Files().CA})
	if err != nil {
		t.Fatal(err)
	}
	if p.Leaf() != nil {
		t.Fatal("a Provider without a certificate has a leaf")
	}
	if _, err := p.ServerConfig(tlsconf.NoClientCert).GetConfigForClient(&tls.ClientHelloInfo{}); !errors.Is(err, tlsconf.ErrNoCertificate) {
		t.Fatalf("serving without a certificate: %v, want ErrNoCertificate", err)
	}
	open := startServer(t, master.ServerCredentials(tlsconf.NoClientCert, nil))
	if _, err := checkOnce(t, open.addr, p.ClientCredentials(tlsconf.MasterName)); err != nil {
		t.Fatalf("a port that asks for no client certificate: %v", err)
	}
	refused := newRefusals()
	mutual := startServer(t, master.ServerCredentials(tlsconf.VerifyClientCert, refused.log))
	_, err = checkOnce(t, mutual.addr, p.ClientCredentials(tlsconf.MasterName))
	if err == nil || !strings.Contains(err.Error(), "or wanted one that was not sent") {
		t.Fatalf("a port that verifies clients: %v, want a refusal that hints at the missing certificate", err)
	}
	testwait.For(t, 10*time.Second, func() bool { return strings.Contains(refused.buf.String(), "the client sent no certificate") },
		func() string { return "no refusal logged:\n" + refused.buf.String() })

	if p, err := tlsconf.LoadClient(files(dir, "client")); err != nil || p.Leaf() == nil {
		t.Fatalf("LoadClient with a certificate: %v", err)
	}
	if _, err := tlsconf.LoadClient(tlsconf.Files{CA: master.Files().CA, Cert: master.Files().Cert}); !errors.Is(err, tlsconf.ErrIncomplete) {
		t.Fatalf("LoadClient with a certificate but no key: %v, want ErrIncomplete", err)
	}
	if _, err := tlsconf.LoadClient(tlsconf.Files{}); !errors.Is(err, tlsconf.ErrIncomplete) {
		t.Fatalf("LoadClient without a CA: %v, want ErrIncomplete", err)
	}
}
