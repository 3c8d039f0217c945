package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flumego/flume/internal/tlsconf"
)

func TestTLSInitWritesTheCAAndCertificatesAndPrintsTheProperties(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	code, out, errOut := flumed(t, "tls", "init", "--dir", dir, "--hosts", "flume1.example,10.0.0.5", "--nodes", "host7", "--days", "30")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut)
	}
	for _, f := range []string{"ca", "master", "node", "node-host7", "client"} {
		if !strings.Contains(out, "wrote "+filepath.Join(dir, f+".pem")+"\n") {
			t.Errorf("output does not list %s.pem:\n%s", f, out)
		}
		fi, err := os.Stat(filepath.Join(dir, f+"-key.pem"))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s-key.pem: %v, %v; want mode 0600", f, fi, err)
		}
	}
	for _, want := range []string{
		"For every master, copy ca.pem, master.pem and master-key.pem there and set in flume-site.xml:",
		"<property><name>flume.tls.ca</name><value>" + filepath.Join(dir, "ca.pem") + "</value></property>",
		"<property><name>flume.tls.cert</name><value>" + filepath.Join(dir, "node-host7.pem") + "</value></property>",
		"<property><name>flume.tls.key</name><value>" + filepath.Join(dir, "client-key.pem") + "</value></property>",
		"For flumectl,",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	p, err := tlsconf.Load(tlsconf.Files{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "node-host7.pem"),
		Key: filepath.Join(dir, "node-host7-key.pem")})
	if err != nil {
		t.Fatal(err)
	}
	if p.Leaf().Subject.CommonName != "host7" || !tlsconf.HasRole(p.Leaf(), tlsconf.NodeName) {
		t.Fatalf("node-host7.pem: CN %q, DNS %v", p.Leaf().Subject.CommonName, p.Leaf().DNSNames)
	}

	code, out, errOut = flumed(t, "tls", "cert", "--dir", dir, "--role", "client", "--name", "alice")
	if code != 0 {
		t.Fatalf("tls cert: exit %d; stderr:\n%s", code, errOut)
	}
	if !strings.Contains(out, "For flumectl as alice,") || !strings.Contains(out, filepath.Join(dir, "client-alice.pem")) {
		t.Fatalf("tls cert output:\n%s", out)
	}
}

func TestTLSCommandsRefuseBadInput(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := flumed(t, "tls", "init", "--dir", dir); code != 0 {
		t.Fatalf("init: exit %d; stderr:\n%s", code, errOut)
	}
	tests := []struct {
		name   string
		args   []string
		errHas string
	}{
		{"unknown flag", []string{"tls", "init", "--dir", dir, "--bogus"}, "unknown flag: --bogus"},
		{"no directory", []string{"tls", "init"}, `required flag(s) "dir" not set`},
		{"existing CA", []string{"tls", "init", "--dir", dir}, "pass --force to replace it"},
		{"zero days", []string{"tls", "init", "--dir", t.TempDir(), "--days", "0"}, "--days 0: want a positive number"},
		{"bad role", []string{"tls", "cert", "--dir", dir, "--role", "admin", "--name", "x"}, `role "admin" invalid`},
		{"path in name", []string{"tls", "cert", "--dir", dir, "--role", "node", "--name", "../x"}, "path separator"},
		{"no CA", []string{"tls", "cert", "--dir", t.TempDir(), "--role", "node", "--name", "host7"}, "no CA in"},
		{"no name", []string{"tls", "cert", "--dir", dir, "--role", "node"}, `required flag(s) "name" not set`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := flumed(t, tt.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, errOut)
			}
			if !strings.Contains(errOut, tt.errHas) {
				t.Fatalf("stderr lacks %q:\n%s", tt.errHas, errOut)
			}
		})
	}
}
