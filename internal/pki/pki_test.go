package pki

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/internal/tlsconf"
)

func readCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s holds no certificate", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func roots(t testing.TB, dir string) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(readCert(t, filepath.Join(dir, CAFile)))
	return pool
}

func TestInitMakesCertificatesThatVerifyForTheirRoles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	written, err := Init{Dir: dir, Hosts: []string{"flume1.example", "10.1.2.3"}, Nodes: []string{"host7"},
		Now: func() time.Time { return now }}.Run()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, w := range written {
		names = append(names, filepath.Base(w))
	}
	want := []string{"ca-key.pem", "ca.pem", "master-key.pem", "master.pem", "node-key.pem", "node.pem",
		"node-host7-key.pem", "node-host7.pem", "client-key.pem", "client.pem"}
	if !slices.Equal(names, want) {
		t.Fatalf("wrote %v, want %v", names, want)
	}

	ca := readCert(t, filepath.Join(dir, CAFile))
	if !ca.IsCA || ca.MaxPathLen != 0 || !ca.MaxPathLenZero || ca.NotAfter.Before(now.AddDate(9, 11, 0)) {
		t.Fatalf("CA: IsCA %v, MaxPathLen %d (zero %v), NotAfter %v", ca.IsCA, ca.MaxPathLen, ca.MaxPathLenZero, ca.NotAfter)
	}
	server := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	tests := []struct {
		file, cn string
		verify   []string // names it must verify for, as a server and as a client
		lacks    string   // a name it must not verify for
	}{
		{"master.pem", tlsconf.MasterName, []string{tlsconf.MasterName, "localhost", "flume1.example", "10.1.2.3", "127.0.0.1", "::1"}, tlsconf.NodeName},
		{"node.pem", tlsconf.NodeName, []string{tlsconf.NodeName, "localhost", "flume1.example", "10.1.2.3", "127.0.0.1"}, tlsconf.MasterName},
		{"node-host7.pem", "host7", []string{tlsconf.NodeName, "host7", "localhost", "flume1.example", "10.1.2.3"}, tlsconf.MasterName},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c := readCert(t, filepath.Join(dir, tt.file))
			if c.Subject.CommonName != tt.cn {
				t.Fatalf("CN %q, want %q", c.Subject.CommonName, tt.cn)
			}
			if !c.NotBefore.Equal(now.Add(-time.Minute)) || !c.NotAfter.Equal(now.AddDate(0, 0, DefaultDays)) {
				t.Fatalf("valid %v to %v, want from a minute before %v for %d days", c.NotBefore, c.NotAfter, now, DefaultDays)
			}
			for _, name := range tt.verify {
				for _, usage := range [][]x509.ExtKeyUsage{server, client} {
					if _, err := c.Verify(x509.VerifyOptions{DNSName: name, Roots: roots(t, dir), KeyUsages: usage, CurrentTime: now}); err != nil {
						t.Errorf("verify for %s %v: %v", name, usage, err)
					}
				}
			}
			if _, err := c.Verify(x509.VerifyOptions{DNSName: tt.lacks, Roots: roots(t, dir), KeyUsages: server, CurrentTime: now}); err == nil {
				t.Errorf("verifies for %s", tt.lacks)
			}
		})
	}

	c := readCert(t, filepath.Join(dir, "client.pem"))
	if c.Subject.CommonName != tlsconf.ClientName || !slices.Equal(c.DNSNames, []string{tlsconf.ClientName}) || len(c.IPAddresses) != 0 {
		t.Fatalf("client certificate: CN %q, DNS %v, IP %v", c.Subject.CommonName, c.DNSNames, c.IPAddresses)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots(t, dir), KeyUsages: client, CurrentTime: now}); err != nil {
		t.Fatalf("client certificate does not verify for client auth: %v", err)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots(t, dir), KeyUsages: server, CurrentTime: now}); err == nil {
		t.Fatal("client certificate verifies for server auth")
	}
}

func TestInitWritesKeysReadableOnlyByTheOwner(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	written, err := Init{Dir: dir}.Run()
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("directory: %v, %v; want mode 0700", fi.Mode(), err)
	}
	for _, path := range written {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o644)
		if strings.HasSuffix(path, "-key.pem") {
			want = 0o600
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(written) {
		t.Fatalf("directory holds %d entries, %d written: temporary files left?", len(entries), len(written))
	}
}

func TestInitRefusesToReplaceACAUnlessForced(t *testing.T) {
	dir := t.TempDir()
	if _, err := (Init{Dir: dir}).Run(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Init{Dir: dir}.Run()
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("second init: %v, want ErrExists naming --force", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, CAFile)); string(after) != string(before) {
		t.Fatal("the refused init changed ca.pem")
	}
	if _, err := (Init{Dir: dir, Force: true}).Run(); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, CAFile)); string(after) == string(before) {
		t.Fatal("a forced init kept the old CA")
	}
}

func TestIssueSignsWithTheCAOfTheDirectory(t *testing.T) {
	dir := t.TempDir()
	if _, err := (Init{Dir: dir}).Run(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		issue    Issue
		file, cn string
		dns      []string
		usage    x509.ExtKeyUsage
	}{
		{Issue{Dir: dir, Role: RoleNode, Name: "host8", Hosts: []string{"10.0.0.8"}}, "node-host8.pem", "host8",
			[]string{tlsconf.NodeName, "host8", "localhost"}, x509.ExtKeyUsageServerAuth},
		{Issue{Dir: dir, Role: RoleMaster, Name: "m2"}, "master-m2.pem", "m2",
			[]string{tlsconf.MasterName, "m2", "localhost"}, x509.ExtKeyUsageServerAuth},
		{Issue{Dir: dir, Role: RoleClient, Name: "alice", Days: 30}, "client-alice.pem", "alice",
			[]string{tlsconf.ClientName}, x509.ExtKeyUsageClientAuth},
		{Issue{Dir: dir, Role: RoleNode, Name: tlsconf.NodeName}, "node.pem", tlsconf.NodeName,
			[]string{tlsconf.NodeName, "localhost"}, x509.ExtKeyUsageServerAuth},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			written, err := tt.issue.Run()
			if err != nil {
				t.Fatal(err)
			}
			wantFiles := []string{filepath.Join(dir, strings.TrimSuffix(tt.file, ".pem")+"-key.pem"), filepath.Join(dir, tt.file)}
			if !slices.Equal(written, wantFiles) {
				t.Fatalf("wrote %v, want %v", written, wantFiles)
			}
			c := readCert(t, filepath.Join(dir, tt.file))
			if c.Subject.CommonName != tt.cn || !slices.Equal(c.DNSNames, tt.dns) {
				t.Fatalf("CN %q DNS %v, want %q %v", c.Subject.CommonName, c.DNSNames, tt.cn, tt.dns)
			}
			if _, err := c.Verify(x509.VerifyOptions{DNSName: tt.dns[0], Roots: roots(t, dir), KeyUsages: []x509.ExtKeyUsage{tt.usage}}); err != nil {
				t.Fatal(err)
			}
			if _, err := tlsconf.Load(tlsconf.Files{CA: filepath.Join(dir, CAFile), Cert: written[1], Key: written[0]}); err != nil {
				t.Fatalf("tlsconf does not load what Issue wrote: %v", err)
			}
		})
	}
	c := readCert(t, filepath.Join(dir, "node-host8.pem"))
	if !slices.ContainsFunc(c.IPAddresses, net.ParseIP("10.0.0.8").Equal) {
		t.Fatalf("node-host8 IP SANs %v lack 10.0.0.8", c.IPAddresses)
	}
}

func TestIssueWithoutACAFails(t *testing.T) {
	dir := t.TempDir()
	_, err := Issue{Dir: dir, Role: RoleNode, Name: "host7"}.Run()
	if !errors.Is(err, ErrNoCA) || !strings.Contains(err.Error(), "flumed tls init") {
		t.Fatalf("issue without a CA: %v, want ErrNoCA with a hint", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node-host7.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a certificate was written without a CA: %v", err)
	}
}

func TestInvalidInputsAreRefused(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		run  func() ([]string, error)
		want string
	}{
		{"bad role", Issue{Dir: dir, Role: "admin", Name: "x"}.Run, `role "admin" invalid: want master, node or client`},
		{"empty name", Issue{Dir: dir, Role: RoleNode}.Run, "name invalid: empty"},
		{"path in name", Issue{Dir: dir, Role: RoleNode, Name: "../etc"}.Run, "path separator"},
		{"odd name", Issue{Dir: dir, Role: RoleNode, Name: "host 7"}.Run, "letters, digits"},
		{"negative days", Issue{Dir: dir, Role: RoleNode, Name: "x", Days: -1}.Run, "days invalid: -1"},
		{"no directory", Issue{Role: RoleNode, Name: "x"}.Run, "directory invalid"},
		{"bad host", Init{Dir: dir, Hosts: []string{"a b"}}.Run, `host "a b" invalid`},
		{"path in node", Init{Dir: dir, Nodes: []string{"a/b"}}.Run, `node name "a/b" invalid`},
		{"negative days at init", Init{Dir: dir, Days: -5}.Run, "days invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			written, err := tt.run()
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want ErrInvalid with %q", err, tt.want)
			}
			if len(written) != 0 {
				t.Fatalf("wrote %v", written)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("refused inputs left %d files", len(entries))
	}
}
