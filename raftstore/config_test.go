package raftstore

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestConfigValidate(t *testing.T) {
	three := []Server{{"a", "10.0.0.1:35874"}, {"b", "10.0.0.2:35874"}, {"c", "10.0.0.3:35874"}}
	valid := func() Config { return Config{ID: "a", Servers: three, DataDir: "/var/lib/flume/raft"} }
	tests := []struct {
		name string
		mod  func(c *Config)
		want string // substring of the error; empty: valid
	}{
		{"valid with defaults", func(*Config) {}, ""},
		{"single member", func(c *Config) { c.Servers = three[:1] }, ""},
		{"empty id", func(c *Config) { c.ID = "" }, "member id is empty"},
		{"id not listed", func(c *Config) { c.ID = "d" }, `member id "d" is not in the server list`},
		{"no servers", func(c *Config) { c.Servers = nil }, "server list is empty"},
		{"duplicate id", func(c *Config) {
			c.Servers = []Server{{"a", "10.0.0.1:1"}, {"a", "10.0.0.2:1"}}
		}, `server id "a" is listed twice`},
		{"duplicate address", func(c *Config) {
			c.Servers = []Server{{"a", "10.0.0.1:1"}, {"b", "10.0.0.1:1"}}
		}, `servers "a" and "b" have the same address 10.0.0.1:1`},
		{"empty server id", func(c *Config) { c.Servers = append(c.Servers, Server{"", "10.0.0.9:1"}) }, "id is empty"},
		{"address without port", func(c *Config) { c.Servers = []Server{{"a", "10.0.0.1"}} }, `address "10.0.0.1"`},
		{"address port zero", func(c *Config) { c.Servers = []Server{{"a", "h:0"}} }, "port must be 1-65535"},
		{"empty data dir", func(c *Config) { c.DataDir = "" }, "data dir is empty"},
		{"lease above heartbeat", func(c *Config) { c.LeaderLeaseTimeout = 2 * time.Second },
			"leader lease timeout 2s: must not exceed the heartbeat timeout 1s"},
		{"election below heartbeat", func(c *Config) { c.ElectionTimeout = 200 * time.Millisecond },
			"election timeout 200ms: must be at least the heartbeat timeout 1s"},
		{"negative dial timeout", func(c *Config) { c.DialTimeout = -time.Second }, "dial timeout -1s"},
		{"negative retain", func(c *Config) { c.SnapshotRetain = -1 }, "snapshot retain -1"},
		{"bind and listener", func(c *Config) {
			c.BindAddr = ":35874"
			c.Listener = &net.TCPListener{}
		}, "set one"},
		{"message cap at its minimum", func(c *Config) {
			c.MaxEntryBytes, c.MaxAppendEntries = 2<<20, 10
			c.MaxMessageBytes = 10*2<<20 + MessageSlackBytes
		}, ""},
		{"message cap below a full append", func(c *Config) { c.MaxMessageBytes = 16 << 20 },
			"max message bytes 16777216: must be at least max append entries 16 × max entry bytes 1048576 + 4194304 = 20971520"},
		{"more entries per append than fit the default cap", func(c *Config) { c.MaxAppendEntries = 17 },
			"max message bytes 20971520: must be at least"},
		{"entry size that would overflow", func(c *Config) { c.MaxEntryBytes = math.MaxInt64 / 2 },
			"must be at least max append entries 16 × max entry bytes 4611686018427387903"},
		{"negative entry size", func(c *Config) { c.MaxEntryBytes = -1 }, "max entry bytes -1: must be positive"},
		{"too many entries per append for raft", func(c *Config) { c.MaxAppendEntries = 1025 },
			"max append entries 1025: must be 1 to 1024"},
		{"snapshot cap below the message cap", func(c *Config) { c.MaxSnapshotBytes = 1 << 20 },
			"max snapshot bytes 1048576: must be at least max message bytes"},
		{"mutual tls", func(c *Config) { c.TLS, c.ClientTLS = serverTLS(), clientTLS() }, ""},
		{"tls with GetConfigForClient", func(c *Config) {
			c.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return nil, nil }}
			c.ClientTLS = clientTLS()
			c.ClientTLS.RootCAs, c.ClientTLS.InsecureSkipVerify = nil, true
			c.ClientTLS.VerifyConnection = func(tls.ConnectionState) error { return nil }
		}, ""},
		{"tls without client certificates", func(c *Config) {
			c.TLS, c.ClientTLS = serverTLS(), clientTLS()
			c.TLS.ClientAuth = tls.NoClientCert
		}, "client auth is NoClientCert: must be RequireAndVerifyClientCert"},
		{"tls with optional client certificates", func(c *Config) {
			c.TLS, c.ClientTLS = serverTLS(), clientTLS()
			c.TLS.ClientAuth = tls.VerifyClientCertIfGiven
		}, "client auth is VerifyClientCertIfGiven"},
		{"tls verifying clients against the system roots", func(c *Config) {
			c.TLS, c.ClientTLS = serverTLS(), clientTLS()
			c.TLS.ClientCAs = nil
		}, "client CAs are not set"},
		{"tls server without a certificate", func(c *Config) {
			c.TLS, c.ClientTLS = serverTLS(), clientTLS()
			c.TLS.Certificates = nil
		}, "server tls config has no certificate"},
		{"tls server without client side", func(c *Config) { c.TLS = serverTLS() }, "without a client tls config"},
		{"tls client without server side", func(c *Config) { c.ClientTLS = clientTLS() }, "without a server tls config"},
		{"tls client without a certificate", func(c *Config) {
			c.TLS, c.ClientTLS = serverTLS(), clientTLS()
			c.ClientTLS.Certificates = nil
		}, "client tls config has no certificate"},
		{"tls client trusting any server", func(c *Config) {
			c.TLS, c.ClientTLS = serverTLS(), clientTLS()
			c.ClientTLS.InsecureSkipVerify = true
		}, "skips verification without VerifyConnection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mod(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				d := c.withDefaults()
				if err := raft.ValidateConfig(d.raftConfig()); err != nil {
					t.Fatalf("raft rejects a valid config: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig mentioning %q", err, tt.want)
			}
		})
	}
}

// serverTLS and clientTLS are valid halves of a mutual TLS setting for Validate, which
// does not parse certificates.
func serverTLS() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{{1}}}},
		ClientCAs:    x509.NewCertPool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
}

func clientTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{{1}}}}, RootCAs: x509.NewCertPool()}
}

func TestDefaultsReelectWithinThreeSeconds(t *testing.T) {
	// Worst case without a split vote: a follower waits up to twice the heartbeat timeout,
	// then one election round of at most twice the election timeout would be the retry.
	c := Config{}.withDefaults()
	if detect := 2 * c.HeartbeatTimeout; detect > 2*time.Second {
		t.Errorf("leader loss detected after up to %v", detect)
	}
	if c.LeaderLeaseTimeout > c.HeartbeatTimeout || c.ElectionTimeout < c.HeartbeatTimeout {
		t.Error("defaults break raft's timeout relations")
	}
	if c.SnapshotRetain != 2 {
		t.Errorf("snapshot retain %d, want 2", c.SnapshotRetain)
	}
}

func TestDiffServers(t *testing.T) {
	stored := []raft.Server{
		{Suffrage: raft.Voter, ID: "a", Address: "h1:1"},
		{Suffrage: raft.Voter, ID: "b", Address: "h2:1"},
		{Suffrage: raft.Nonvoter, ID: "c", Address: "h3:1"},
		{Suffrage: raft.Voter, ID: "e", Address: "h5:1"},
	}
	configured := []Server{{"a", "h1:1"}, {"b", "h9:1"}, {"c", "h3:1"}, {"d", "h4:1"}}
	got := diffServers(configured, stored)
	want := []string{
		`server "b" is at h2:1 in the stored configuration but configured at h9:1`,
		`server "c" is a nonvoter in the stored configuration`,
		`server "d" (h4:1) is configured but not in the stored configuration`,
		`server "e" (h5:1) is in the stored configuration but not configured`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := diffServers(configured[:1], stored[:1]); d != nil {
		t.Errorf("equal lists differ: %v", d)
	}
}
