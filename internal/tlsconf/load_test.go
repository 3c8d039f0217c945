package tlsconf_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/internal/pki"
	"github.com/flumego/flume/internal/tlsconf"
)

func TestLoadSaysWhatIsWrongWithTheFiles(t *testing.T) {
	a, b := newPKI(t), newPKI(t)
	now := time.Now()
	expired := issue(t, a, pki.RoleNode, "old", now.AddDate(0, 0, -30), 1)
	future := issue(t, a, pki.RoleNode, "future", now.Add(48*time.Hour), 1)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	master := files(a, "master")
	with := func(f tlsconf.Files, set func(*tlsconf.Files)) tlsconf.Files { set(&f); return f }
	tests := []struct {
		name  string
		files tlsconf.Files
		is    error
		has   []string
	}{
		{"missing file", with(master, func(f *tlsconf.Files) { f.Cert = filepath.Join(a, "nope.pem") }), fs.ErrNotExist,
			[]string{"read certificate", filepath.Join(a, "nope.pem")}},
		{"certificate file without PEM", with(master, func(f *tlsconf.Files) { f.Cert = garbage }), tlsconf.ErrNoPEM,
			[]string{garbage, "no PEM block of type CERTIFICATE (found no PEM at all)"}},
		{"key file holding the certificate", with(master, func(f *tlsconf.Files) { f.Key = master.Cert }), tlsconf.ErrNoPEM,
			[]string{master.Cert, "PRIVATE KEY (found only CERTIFICATE)"}},
		{"key of another certificate", with(master, func(f *tlsconf.Files) { f.Key = files(a, "node").Key }), tlsconf.ErrKeyMismatch,
			[]string{files(a, "node").Key, "does not match the public key of certificate", master.Cert}},
		{"expired leaf", expired, tlsconf.ErrExpired,
			[]string{expired.Cert, "expired on " + now.AddDate(0, 0, -29).UTC().Format("2006-01-02")}},
		{"leaf not yet valid", future, tlsconf.ErrNotYetValid,
			[]string{future.Cert, "not yet valid: valid from " + now.Add(48*time.Hour).UTC().Format("2006-01-02")}},
		{"leaf of another CA", with(master, func(f *tlsconf.Files) { f.CA = files(b, "master").CA }), tlsconf.ErrUntrusted,
			[]string{master.Cert, "is not signed by the CA bundle", files(b, "master").CA, "unknown authority"}},
		{"CA file without a certificate", with(master, func(f *tlsconf.Files) { f.CA = filepath.Join(a, pki.CAKeyFile) }), tlsconf.ErrNoPEM,
			[]string{"CA bundle", pki.CAKeyFile, "CERTIFICATE (found only PRIVATE KEY)"}},
		{"some but not all files", tlsconf.Files{CA: master.CA}, tlsconf.ErrIncomplete,
			[]string{"flume.tls.cert and flume.tls.key are not set"}},
		{"no files", tlsconf.Files{}, tlsconf.ErrIncomplete, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tlsconf.Load(tt.files)
			if !errors.Is(err, tt.is) {
				t.Fatalf("Load: %v, want %v", err, tt.is)
			}
			if p != nil {
				t.Fatal("Load returned a Provider with its error")
			}
			for _, h := range tt.has {
				if !strings.Contains(err.Error(), h) {
					t.Errorf("error lacks %q:\n%v", h, err)
				}
			}
		})
	}
}

func TestLoadAcceptsEveryCertificateInit(t *testing.T) {
	dir := newPKI(t)
	for _, file := range []string{"master", "node", "node-host7", "client"} {
		p := mustLoad(t, files(dir, file))
		if p.Leaf() == nil || p.Files() != files(dir, file) {
			t.Fatalf("%s: leaf %v, files %v", file, p.Leaf(), p.Files())
		}
	}
}

func TestFilesCheck(t *testing.T) {
	tests := []struct {
		files tlsconf.Files
		set   bool
		err   string
	}{
		{tlsconf.Files{}, false, ""},
		{tlsconf.Files{CA: "ca", Cert: "c", Key: "k"}, true, ""},
		{tlsconf.Files{CA: "ca", Cert: "c"}, false, "flume.tls.key is not set"},
		{tlsconf.Files{Key: "k"}, false, "flume.tls.ca and flume.tls.cert are not set"},
	}
	for _, tt := range tests {
		err := tt.files.Check()
		if tt.files.Set() != tt.set || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%+v: Set %v, Check %v; want %v, %q", tt.files, tt.files.Set(), err, tt.set, tt.err)
		}
		if err != nil && !errors.Is(err, tlsconf.ErrIncomplete) {
			t.Errorf("%+v: %v is not ErrIncomplete", tt.files, err)
		}
	}
}

func TestParseClientAuth(t *testing.T) {
	tests := []struct {
		in   string
		want tlsconf.ClientAuth
		err  bool
	}{
		{"none", tlsconf.NoClientCert, false},
		{"verify", tlsconf.VerifyClientCert, false},
		{"", 0, true},
		{"Verify", 0, true},
		{"require", 0, true},
	}
	for _, tt := range tests {
		got, err := tlsconf.ParseClientAuth(tt.in)
		if got != tt.want || (err != nil) != tt.err || (err != nil && !errors.Is(err, tlsconf.ErrClientAuth)) {
			t.Errorf("ParseClientAuth(%q) = %v, %v", tt.in, got, err)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tt.in)
		}
	}
}

func TestHasRoleLooksAtTheDNSNames(t *testing.T) {
	dir := newPKI(t)
	tests := []struct {
		file string
		role string
		want bool
	}{
		{"master", tlsconf.MasterName, true},
		{"master", tlsconf.NodeName, false},
		{"node-host7", tlsconf.NodeName, true},
		{"node-host7", "host7", true},
		{"client", tlsconf.ClientName, true},
		{"client", tlsconf.MasterName, false},
		{"client", "", false},
	}
	for _, tt := range tests {
		if got := tlsconf.HasRole(mustLoad(t, files(dir, tt.file)).Leaf(), tt.role); got != tt.want {
			t.Errorf("HasRole(%s, %q) = %v, want %v", tt.file, tt.role, got, tt.want)
		}
	}
	if tlsconf.HasRole(nil, tlsconf.MasterName) {
		t.Error("a nil certificate has a role")
	}
}
