package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// secureSetup is what real processes need for TLS and access control: a CA and certificates
// made by `flumed tls init` (one per named node, and the shared ones), and the bootstrap admin
// token the masters create from a file.
type secureSetup struct {
	dir   string // the certificates
	admin string // the bootstrap admin token's secret
}

// newSecureSetup runs `flumed tls init` for masters on 127.0.0.1-3 and the named nodes.
func newSecureSetup(t *testing.T, bin string, nodes ...string) *secureSetup {
	t.Helper()
	s := &secureSetup{dir: t.TempDir(), admin: rand.Text()}
	args := []string{"tls", "init", "--dir", s.dir, "--hosts", "127.0.0.1,127.0.0.2,127.0.0.3"}
	if len(nodes) > 0 {
		args = append(args, "--nodes", strings.Join(nodes, ","))
	}
	if out, err := exec.Command(filepath.Join(bin, "flumed"), args...).CombinedOutput(); err != nil {
		t.Fatalf("flumed tls init: %v\n%s", err, out)
	}
	if err := os.WriteFile(s.path("bootstrap.token"), []byte(s.admin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *secureSetup) path(name string) string { return filepath.Join(s.dir, name) }

// tlsArgs are the -D settings of certificate name ("master", "node-col1", "client").
func (s *secureSetup) tlsArgs(name string) []string {
	return []string{"-D", "flume.tls.ca=" + s.path("ca.pem"), "-D", "flume.tls.cert=" + s.path(name+".pem"),
		"-D", "flume.tls.key=" + s.path(name+"-key.pem")}
}

// masterArgs are the flags of a secure master; none for a nil setup.
func (s *secureSetup) masterArgs() []string {
	if s == nil {
		return nil
	}
	return append(s.tlsArgs("master"), "-D", "flume.acl.enabled=true",
		"-D", "flume.acl.bootstrap.token.file="+s.path("bootstrap.token"))
}

// nodeArgs are the flags of secure node name: its own certificate when one was made for it,
// else the shared node certificate; none for a nil setup.
func (s *secureSetup) nodeArgs(name string) []string {
	if s == nil {
		return nil
	}
	cert := "node-" + name
	if _, err := os.Stat(s.path(cert + ".pem")); err != nil {
		cert = "node"
	}
	return s.tlsArgs(cert)
}

// ctlArgs are the flags of flumectl as an admin; none for a nil setup.
func (s *secureSetup) ctlArgs() []string {
	if s == nil {
		return nil
	}
	return s.clientArgs("client", s.admin)
}

// clientArgs are the flags of flumectl with certificate cert ("" for none: the CA alone) and
// token ("" for none).
func (s *secureSetup) clientArgs(cert, token string) []string {
	args := []string{"--tls-ca", s.path("ca.pem")}
	if cert != "" {
		args = append(args, "--tls-cert", s.path(cert+".pem"), "--tls-key", s.path(cert+"-key.pem"))
	}
	if token != "" {
		args = append(args, "--token", token)
	}
	return args
}

// rss returns the resident set size of process pid in bytes (VmRSS), -1 if it cannot be read.
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

// TestSecurityPropertiesAreCheckedAtStart: a bad TLS, token or exec setting stops a daemon
// before it listens, with an error that names the property and what is wrong with it.
func TestSecurityPropertiesAreCheckedAtStart(t *testing.T) {
	dir := t.TempDir()
	weak := filepath.Join(dir, "weak.token")
	if err := os.WriteFile(weak, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	node := []string{"node", "-n", "n1", "-s", "--data-dir", dir, "-D", "flume.master.servers=127.0.0.1:1"}
	for _, c := range []struct {
		what string
		args []string
		want []string
	}{
		{"some TLS files but not all", append(node, "-D", "flume.tls.cert="+notPEM),
			[]string{"flume.tls.ca and flume.tls.key are not set"}},
		{"a certificate file that holds no certificate", append(node, "-D", "flume.tls.ca="+notPEM, "-D", "flume.tls.cert="+notPEM, "-D", "flume.tls.key="+notPEM),
			[]string{"flume.tls.cert", notPEM}},
		{"a bad client auth", append(node, "-D", "flume.tls.client.auth=maybe"),
			[]string{"flume.tls.client.auth", "maybe"}},
		{"a missing token file", append(node, "-D", "flume.acl.token.file="+filepath.Join(dir, "none")),
			[]string{"property flume.acl.token.file", "no such file"}},
		{"a weak token", append(node, "-D", "flume.acl.token.file="+weak),
			[]string{"property flume.acl.token.file", "at least 20 characters"}},
		{"a missing exec allow file", append(node, "-D", "flume.node.exec.allow="+filepath.Join(dir, "allow")),
			[]string{"property flume.node.exec.allow", filepath.Join(dir, "allow")}},
		{"a weak bootstrap token", []string{"master", "--data-dir", dir, "-D", "flume.acl.bootstrap.token.file=" + weak},
			[]string{"property flume.acl.bootstrap.token.file", "at least 20 characters"}},
	} {
		code, _, stderr := flumed(t, c.args...)
		if code != 2 {
			t.Errorf("%s: exit %d, want 2\n%s", c.what, code, stderr)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: the error does not say %q:\n%s", c.what, w, stderr)
			}
		}
	}
}
