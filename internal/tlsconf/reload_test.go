package tlsconf_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/internal/pki"
	"github.com/flumego/flume/internal/testwait"
	"github.com/flumego/flume/internal/tlsconf"
	"github.com/flumego/flume/node/plugin/plugintest"
)

// installed returns the files of a daemon in a directory of its own, holding the CA bundle
// cas and the certificate and key of src.
func installed(t testing.TB, src tlsconf.Files, cas ...string) tlsconf.Files {
	t.Helper()
	dir := t.TempDir()
	f := tlsconf.Files{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	install(t, f, src, cas...)
	return f
}

// TestReloadKeepsSessionsAndGivesNewHandshakesTheNewMaterial rotates a master's certificate,
// then its CA, under a connection that stays open: the open session keeps the certificate it
// negotiated, and every new handshake uses what was loaded last, on both sides.
func TestReloadKeepsSessionsAndGivesNewHandshakesTheNewMaterial(t *testing.T) {
	a := newPKI(t)
	caA := filepath.Join(a, pki.CAFile)
	serverFiles := installed(t, files(a, "master"), caA)
	clientFiles := installed(t, files(a, "client"), caA)
	server, client := mustLoad(t, serverFiles), mustLoad(t, clientFiles)
	srv := startServer(t, server.ServerCredentials(tlsconf.VerifyClientCert, nil, tlsconf.ClientName))
	session := dial(t, srv.addr, client.ClientCredentials(tlsconf.MasterName))
	first, err := check(session)
	if err != nil {
		t.Fatal(err)
	}
	if serial(first) != serial(server.Leaf()) {
		t.Fatal("the client saw another certificate than the server's")
	}
	sessionKeepsFirst := func(step string) {
		t.Helper()
		got, err := check(session)
		if err != nil {
			t.Fatalf("%s: the open session broke: %v", step, err)
		}
		if serial(got) != serial(first) {
			t.Fatalf("%s: the open session was replaced by a new one", step)
		}
	}

	// A new certificate from the same CA.
	renewed := issue(t, a, pki.RoleMaster, "m2", time.Now(), 30)
	install(t, serverFiles, renewed, caA)
	if err := server.Reload(); err != nil {
		t.Fatal(err)
	}
	if want := serial(mustLoad(t, renewed).Leaf()); serial(server.Leaf()) != want {
		t.Fatal("Leaf is not the certificate reloaded")
	}
	sessionKeepsFirst("new certificate")
	got, err := checkOnce(t, srv.addr, client.ClientCredentials(tlsconf.MasterName))
	if err != nil || serial(got) != serial(server.Leaf()) {
		t.Fatalf("a new handshake after the reload: %v; got the new certificate %v", err, serial(got) == serial(server.Leaf()))
	}

	// A new CA: the server trusts both CAs and presents the new one's certificate. A client
	// that still trusts only the old CA refuses it until it reloads a bundle with both.
	b := newPKI(t)
	caB := filepath.Join(b, pki.CAFile)
	install(t, serverFiles, files(b, "master"), caA, caB)
	if err := server.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := checkOnce(t, srv.addr, client.ClientCredentials(tlsconf.MasterName)); err == nil ||
		!strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("a client that trusts only the old CA: %v, want unknown authority", err)
	}
	sessionKeepsFirst("new CA on the server")
	install(t, clientFiles, files(b, "client"), caA, caB)
	if err := client.Reload(); err != nil {
		t.Fatal(err)
	}
	got, err = checkOnce(t, srv.addr, client.ClientCredentials(tlsconf.MasterName))
	if err != nil || serial(got) != serial(server.Leaf()) {
		t.Fatalf("a new handshake after both reloads: %v; got the new CA's certificate %v", err, serial(got) == serial(server.Leaf()))
	}
	if c, _ := srv.lastClientCert(); serial(c) != serial(client.Leaf()) {
		t.Fatal("the server did not see the client's new certificate")
	}
	sessionKeepsFirst("new CA on both sides")
}

// TestAFailedReloadKeepsThePreviousMaterial breaks the files in several ways: each Reload
// fails and the server goes on with the certificate it had.
func TestAFailedReloadKeepsThePreviousMaterial(t *testing.T) {
	a := newPKI(t)
	good := files(a, "master")
	f := installed(t, good, good.CA)
	p := mustLoad(t, f)
	before := serial(p.Leaf())
	srv := startServer(t, p.ServerCredentials(tlsconf.VerifyClientCert, nil))
	client := mustLoad(t, files(a, "client"))
	expired := issue(t, a, pki.RoleMaster, "old", time.Now().AddDate(0, 0, -3), 1)
	tests := []struct {
		name  string
		spoil func()
		is    error
	}{
		{"certificate replaced by garbage", func() { replace(t, f.Cert, []byte("garbage")) }, tlsconf.ErrNoPEM},
		{"key of another certificate", func() { replace(t, f.Key, readFile(t, files(a, "node").Key)) }, tlsconf.ErrKeyMismatch},
		{"expired certificate", func() { install(t, f, expired, good.CA) }, tlsconf.ErrExpired},
		{"CA file removed", func() { _ = os.Remove(f.CA) }, os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			install(t, f, good, good.CA)
			tt.spoil()
			if err := p.Reload(); !errors.Is(err, tt.is) {
				t.Fatalf("Reload: %v, want %v", err, tt.is)
			}
			if serial(p.Leaf()) != before {
				t.Fatal("a failed reload replaced the certificate")
			}
			got, err := checkOnce(t, srv.addr, client.ClientCredentials(tlsconf.MasterName))
			if err != nil || serial(got) != before {
				t.Fatalf("a handshake after a failed reload: %v", err)
			}
		})
	}
}

// TestWatchReloadsWhenTheFilesChange replaces the files as a rotation tool does (a rename over
// each file) and as Kubernetes updates a mounted secret (a swap of the ..data symlink).
func TestWatchReloadsWhenTheFilesChange(t *testing.T) {
	a := newPKI(t)
	renewed := issue(t, a, pki.RoleMaster, "m2", time.Now(), 30)
	want := serial(mustLoad(t, renewed).Leaf())
	tests := []struct {
		name   string
		layout func(dir string, src tlsconf.Files) tlsconf.Files // installs src in dir
		update func(dir string, f, src tlsconf.Files)            // replaces f with src
	}{
		{"renamed over", func(dir string, src tlsconf.Files) tlsconf.Files {
			f := tlsconf.Files{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
			install(t, f, src, src.CA)
			return f
		}, func(_ string, f, src tlsconf.Files) { install(t, f, src, src.CA) }},
		{"kubernetes secret", func(dir string, src tlsconf.Files) tlsconf.Files {
			secretVersion(t, dir, "..v1", src)
			for _, name := range []string{"ca.pem", "cert.pem", "key.pem"} {
				if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
			}
			return tlsconf.Files{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
		}, func(dir string, _, src tlsconf.Files) { secretVersion(t, dir, "..v2", src) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			f := tt.layout(dir, files(a, "master"))
			p := mustLoad(t, f)
			p.SetWatchDebounce(20 * time.Millisecond)
			var log plugintest.Buffer
			stop := p.Watch(slog.New(slog.NewTextHandler(&log, nil)))
			defer stop()
			tt.update(dir, f, renewed)
			testwait.For(t, 10*time.Second, func() bool { return serial(p.Leaf()) == want },
				func() string { return "the watch did not load the new certificate; log:\n" + log.String() })
			testwait.For(t, 10*time.Second, func() bool { return strings.Contains(log.String(), "tls certificates reloaded") },
				func() string { return "no reload logged:\n" + log.String() })
			if !strings.Contains(log.String(), "not_after=") || !strings.Contains(log.String(), "subject=m2") {
				t.Fatalf("the reload line lacks the new leaf's subject and NotAfter:\n%s", log.String())
			}

			const failed = "keeping the previous certificates"
			failures := strings.Count(log.String(), failed) // a reload between the key and the cert may have failed
			replace(t, f.Cert, []byte("garbage"))           // over the symlink, for the secret: a bad update
			testwait.For(t, 10*time.Second, func() bool { return strings.Count(log.String(), failed) > failures },
				func() string { return "no failed reload logged:\n" + log.String() })
			if serial(p.Leaf()) != want {
				t.Fatal("a bad file replaced the certificate")
			}
			stop()
			stop() // safe twice
		})
	}
}

// secretVersion writes src as the version dir/name of a Kubernetes secret volume and points
// ..data at it atomically, as the kubelet does.
func secretVersion(t testing.TB, dir, name string, src tlsconf.Files) {
	t.Helper()
	version := filepath.Join(dir, name)
	if err := os.Mkdir(version, 0o755); err != nil {
		t.Fatal(err)
	}
	install(t, tlsconf.Files{CA: filepath.Join(version, "ca.pem"), Cert: filepath.Join(version, "cert.pem"),
		Key: filepath.Join(version, "key.pem")}, src, src.CA)
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(name, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
}
