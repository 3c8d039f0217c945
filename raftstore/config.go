package raftstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// Defaults applied by Open to zero Config fields. The heartbeat, election and commit timeouts
// are hashicorp/raft's own defaults (raft.DefaultConfig), which are tuned for a LAN: a
// follower notices a lost leader after a random 1-2 s (HeartbeatTimeout to twice that), then
// pre-vote and vote take one round trip, so an ensemble re-elects in about 1.5-2.5 s, one
// election round more when a split vote costs one (ElectionTimeout). The leader lease is
// twice raft's, as long as the heartbeat timeout allows: it only decides how soon a leader cut
// off from the majority stops calling itself leader, not how soon a new one is elected, and
// with raft's 500 ms a leader on a 2-core machine with both cores busy stepped down by itself.
// Shorter timeouts re-elect faster but make a leader step down for nothing on a busy host;
// longer ones only make outages longer. The masters read them from flume.master.raft.*.
const (
	// DefaultHeartbeatTimeout is how long a follower waits without hearing from the leader
	// before it starts an election (randomised up to twice this).
	DefaultHeartbeatTimeout = time.Second
	// DefaultElectionTimeout is how long a candidate waits for votes before retrying
	// (randomised up to twice this).
	DefaultElectionTimeout = time.Second
	// DefaultLeaderLeaseTimeout is how long a leader keeps leading without contact with a
	// majority; after it the leader steps down, so a leader cut off from the majority stops
	// taking writes within a second (none it takes meanwhile commits).
	DefaultLeaderLeaseTimeout = time.Second
	// DefaultCommitTimeout bounds how long a follower may go without learning the commit
	// index when the leader has nothing to send.
	DefaultCommitTimeout = 50 * time.Millisecond
	// DefaultDialTimeout bounds a TCP connect plus TLS handshake to another member.
	DefaultDialTimeout = 5 * time.Second
	// DefaultIOTimeout is the I/O deadline of one raft RPC (scaled up for snapshots).
	DefaultIOTimeout = 10 * time.Second
	// DefaultSnapshotThreshold is how many new log entries trigger a snapshot.
	DefaultSnapshotThreshold = 8192
	// DefaultSnapshotInterval is how often the threshold is checked.
	DefaultSnapshotInterval = 2 * time.Minute
	// DefaultTrailingLogs is how many entries a snapshot leaves in the log, so a follower
	// that is a little behind catches up from the log instead of a full snapshot transfer.
	DefaultTrailingLogs = 10240
	// DefaultSnapshotRetain is how many snapshots are kept on disk.
	DefaultSnapshotRetain = 2
	// DefaultPort is the raft transport port of the master (DESIGN §5.4).
	DefaultPort = 35874

	// DefaultMaxEntryBytes is the largest entry Apply accepts.
	DefaultMaxEntryBytes = 1 << 20
	// DefaultMaxAppendEntries is how many entries one AppendEntries request carries at most,
	// and how many applies the leader writes to its log in one batch. raft's default is 64;
	// 16 keeps the message cap at 20 MiB, and the masters' applies rarely queue deeper (one
	// commit per collector, a release per agent, in flight at a time).
	DefaultMaxAppendEntries = 16
	// DefaultMaxMessageBytes caps one raft request read from a connection (one response on
	// a dialled connection): a full AppendEntries of default entries plus MessageSlackBytes.
	DefaultMaxMessageBytes = DefaultMaxAppendEntries*DefaultMaxEntryBytes + MessageSlackBytes
	// DefaultMaxSnapshotBytes caps one InstallSnapshot request, header and snapshot data.
	DefaultMaxSnapshotBytes = 4 << 30
	// MessageSlackBytes is what MaxMessageBytes must leave above MaxAppendEntries full
	// entries: the encoding of the request and of every entry's other fields, and the read
	// ahead of raft's 256 KiB buffer into the next request on a pipelined connection.
	MessageSlackBytes = 4 << 20
	// maxRaftAppendEntries is raft's own upper bound of MaxAppendEntries.
	maxRaftAppendEntries = 1024
)

// Server is one member of the ensemble as every member knows it.
type Server struct {
	// ID names the member; it never changes for the life of its data directory.
	ID string
	// Addr is the host:port the other members dial to reach it.
	Addr string
}

// Config configures one member. Zero durations and counts take the Default values above.
type Config struct {
	// ID is this member's ID; it must appear in Servers.
	ID string
	// Servers is the full ensemble. Every member bootstraps with the same list when it has
	// no state yet; afterwards the configuration stored in the log wins (see ConfigDrift).
	Servers []Server
	// BindAddr is the address to listen on; empty means this member's Addr in Servers.
	// Use it to bind 0.0.0.0 while advertising a routable address.
	BindAddr string
	// Listener, when set, is used instead of BindAddr (tests use 127.0.0.1:0). Open takes
	// ownership: Close closes it, and so does a failed Open.
	Listener net.Listener
	// DataDir holds raft.db (log and stable store) and snapshots/.
	DataDir string
	// TLS, when set, is the server side of the raft port: every accepted connection
	// completes a TLS handshake, client certificate included, before raft reads a byte of
	// it. It is used as given, neither cloned nor changed, so GetConfigForClient and
	// GetCertificate keep reloading certificates. Validate requires that it demands and
	// verifies a client certificate: ClientAuth is tls.RequireAndVerifyClientCert with
	// ClientCAs set, or GetConfigForClient is set, and the configs it returns are trusted to
	// do so. ClientTLS must be set with it.
	TLS *tls.Config
	// ClientTLS is the client side, used to dial the other members; set it exactly when TLS
	// is set. It must present a certificate (Certificates or GetClientCertificate) and
	// verify the server: with RootCAs against the host of the dialled address (an empty
	// ServerName is set to that host on a clone of the config, hooks included), or, with
	// InsecureSkipVerify, in VerifyConnection or VerifyPeerCertificate, one of which Validate
	// then requires.
	ClientTLS *tls.Config
	// Join makes a member without state wait to be added with AddVoter instead of
	// bootstrapping. A member added at run time must set it: bootstrapping it with a list
	// that differs from the ensemble's would give it a conflicting first log entry.
	Join bool

	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	DialTimeout        time.Duration
	IOTimeout          time.Duration

	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	SnapshotRetain    int

	// MaxEntryBytes is the largest entry Apply accepts (ErrEntryTooLarge above it). Lowering
	// it does not shrink entries already in the log; see MaxMessageBytes.
	MaxEntryBytes int64
	// MaxAppendEntries is how many entries one AppendEntries request carries at most
	// (raft.Config.MaxAppendEntries, 1 to 1024).
	MaxAppendEntries int
	// MaxMessageBytes caps the bytes a connection reads between two of its writes, that is
	// one request on an accepted connection and one response on a dialled one; a peer that
	// sends more is cut off. It must be at least MaxAppendEntries*MaxEntryBytes +
	// MessageSlackBytes, so a legitimate AppendEntries always fits: one that did not would
	// be retried and refused forever, and the follower would never catch up.
	MaxMessageBytes int64
	// MaxSnapshotBytes caps an InstallSnapshot request, whose snapshot data streams to disk
	// through the same connection. It must exceed the largest snapshot of the FSM, or a
	// member that needs one can never catch up, and be at least MaxMessageBytes.
	MaxSnapshotBytes int64

	// Logger receives this member's logs and raft's (through the hclog adapter); nil
	// discards them.
	Logger *slog.Logger
}

// withDefaults returns a copy with every zero field set to its default.
func (c Config) withDefaults() Config {
	setDur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	setDur(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	setDur(&c.ElectionTimeout, DefaultElectionTimeout)
	setDur(&c.LeaderLeaseTimeout, DefaultLeaderLeaseTimeout)
	setDur(&c.CommitTimeout, DefaultCommitTimeout)
	setDur(&c.DialTimeout, DefaultDialTimeout)
	setDur(&c.IOTimeout, DefaultIOTimeout)
	setDur(&c.SnapshotInterval, DefaultSnapshotInterval)
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = DefaultTrailingLogs
	}
	if c.SnapshotRetain == 0 {
		c.SnapshotRetain = DefaultSnapshotRetain
	}
	if c.MaxEntryBytes == 0 {
		c.MaxEntryBytes = DefaultMaxEntryBytes
	}
	if c.MaxAppendEntries == 0 {
		c.MaxAppendEntries = DefaultMaxAppendEntries
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.MaxSnapshotBytes == 0 {
		c.MaxSnapshotBytes = DefaultMaxSnapshotBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// self returns this member's entry in Servers.
func (c *Config) self() (Server, bool) {
	for _, s := range c.Servers {
		if s.ID == c.ID {
			return s, true
		}
	}
	return Server{}, false
}

// Validate reports every problem of the configuration as Open would use it (defaults
// applied), joined in one error that wraps ErrInvalidConfig.
func (c Config) Validate() error {
	d := c.withDefaults()
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if d.ID == "" {
		add("member id is empty")
	}
	if d.DataDir == "" {
		add("data dir is empty")
	}
	if len(d.Servers) == 0 {
		add("server list is empty")
	}
	errs = append(errs, validateServers(d.Servers)...)
	if _, ok := d.self(); d.ID != "" && len(d.Servers) > 0 && !ok {
		add("member id %q is not in the server list", d.ID)
	}
	if d.Listener != nil && d.BindAddr != "" {
		add("bind address %q and a listener are both set; set one", d.BindAddr)
	}
	errs = append(errs, validateTimings(&d)...)
	if d.SnapshotRetain < 1 {
		add("snapshot retain %d: must be at least 1", d.SnapshotRetain)
	}
	errs = append(errs, validateSizes(&d)...)
	errs = append(errs, validateTLS(d.TLS, d.ClientTLS)...)
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

// validateServers checks IDs and addresses of the server list.
func validateServers(servers []Server) []error {
	var errs []error
	ids := make(map[string]bool, len(servers))
	addrs := make(map[string]string, len(servers))
	for i, s := range servers {
		if s.ID == "" {
			errs = append(errs, fmt.Errorf("server %d (%s): id is empty", i, s.Addr))
		} else if ids[s.ID] {
			errs = append(errs, fmt.Errorf("server id %q is listed twice", s.ID))
		}
		ids[s.ID] = true
		if err := checkHostPort(s.Addr); err != nil {
			errs = append(errs, fmt.Errorf("server %q: %w", s.ID, err))
			continue
		}
		if other, dup := addrs[s.Addr]; dup {
			errs = append(errs, fmt.Errorf("servers %q and %q have the same address %s", other, s.ID, s.Addr))
		}
		addrs[s.Addr] = s.ID
	}
	return errs
}

// checkHostPort accepts host:port with a non-empty host and a port in 1..65535.
func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "" {
		return fmt.Errorf("address %q: host is empty", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("address %q: port must be 1-65535", addr)
	}
	return nil
}

// validateTimings checks the relations raft needs, naming this package's fields.
func validateTimings(d *Config) []error {
	var errs []error
	const floor = 5 * time.Millisecond
	for _, f := range []struct {
		name string
		v    time.Duration
		min  time.Duration
	}{
		{"heartbeat timeout", d.HeartbeatTimeout, floor},
		{"election timeout", d.ElectionTimeout, floor},
		{"leader lease timeout", d.LeaderLeaseTimeout, floor},
		{"commit timeout", d.CommitTimeout, time.Millisecond},
		{"dial timeout", d.DialTimeout, time.Millisecond},
		{"io timeout", d.IOTimeout, time.Millisecond},
		{"snapshot interval", d.SnapshotInterval, floor},
	} {
		if f.v < f.min {
			errs = append(errs, fmt.Errorf("%s %v: must be at least %v", f.name, f.v, f.min))
		}
	}
	if d.LeaderLeaseTimeout > d.HeartbeatTimeout {
		errs = append(errs, fmt.Errorf("leader lease timeout %v: must not exceed the heartbeat timeout %v",
			d.LeaderLeaseTimeout, d.HeartbeatTimeout))
	}
	if d.ElectionTimeout < d.HeartbeatTimeout {
		errs = append(errs, fmt.Errorf("election timeout %v: must be at least the heartbeat timeout %v",
			d.ElectionTimeout, d.HeartbeatTimeout))
	}
	return errs
}

// validateSizes checks the message caps against the entries they must carry.
func validateSizes(d *Config) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if d.MaxEntryBytes < 1 {
		add("max entry bytes %d: must be positive", d.MaxEntryBytes)
	}
	if d.MaxAppendEntries < 1 || d.MaxAppendEntries > maxRaftAppendEntries {
		add("max append entries %d: must be 1 to %d", d.MaxAppendEntries, maxRaftAppendEntries)
	}
	if len(errs) > 0 {
		return errs
	}
	// MaxAppendEntries*MaxEntryBytes + slack, saturating instead of overflowing.
	need := int64(math.MaxInt64)
	if d.MaxEntryBytes <= (math.MaxInt64-MessageSlackBytes)/int64(d.MaxAppendEntries) {
		need = int64(d.MaxAppendEntries)*d.MaxEntryBytes + MessageSlackBytes
	}
	if d.MaxMessageBytes < need {
		add("max message bytes %d: must be at least max append entries %d × max entry bytes %d + %d = %d, "+
			"or a full AppendEntries would be refused forever",
			d.MaxMessageBytes, d.MaxAppendEntries, d.MaxEntryBytes, MessageSlackBytes, need)
	}
	if d.MaxSnapshotBytes < d.MaxMessageBytes {
		add("max snapshot bytes %d: must be at least max message bytes %d", d.MaxSnapshotBytes, d.MaxMessageBytes)
	}
	return errs
}

// validateTLS checks that the raft port demands a client certificate and that dialling
// presents one and verifies the server.
func validateTLS(server, client *tls.Config) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch {
	case server == nil && client == nil:
		return nil
	case server == nil:
		return []error{errors.New("client tls config is set without a server tls config; set both or neither")}
	case client == nil:
		return []error{errors.New("server tls config is set without a client tls config; set both or neither")}
	}
	if server.GetConfigForClient == nil {
		if server.ClientAuth != tls.RequireAndVerifyClientCert {
			add("server tls config: client auth is %v: must be RequireAndVerifyClientCert "+
				"(or set GetConfigForClient to a config that requires one)", server.ClientAuth)
		} else if server.ClientCAs == nil {
			add("server tls config: client CAs are not set: client certificates would be verified against the system roots")
		}
		if len(server.Certificates) == 0 && server.GetCertificate == nil {
			add("server tls config has no certificate (Certificates, GetCertificate or GetConfigForClient)")
		}
	}
	if len(client.Certificates) == 0 && client.GetClientCertificate == nil {
		add("client tls config has no certificate (Certificates or GetClientCertificate): the other members would refuse it")
	}
	if client.InsecureSkipVerify && client.VerifyConnection == nil && client.VerifyPeerCertificate == nil {
		add("client tls config skips verification without VerifyConnection or VerifyPeerCertificate: it would trust any server")
	}
	return errs
}

// raftConfig translates a validated, defaulted Config for raft.
func (c *Config) raftConfig() *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(c.ID)
	rc.HeartbeatTimeout = c.HeartbeatTimeout
	rc.ElectionTimeout = c.ElectionTimeout
	rc.LeaderLeaseTimeout = c.LeaderLeaseTimeout
	rc.CommitTimeout = c.CommitTimeout
	rc.SnapshotThreshold = c.SnapshotThreshold
	rc.SnapshotInterval = c.SnapshotInterval
	rc.TrailingLogs = c.TrailingLogs
	rc.MaxAppendEntries = c.MaxAppendEntries
	// A removed member keeps running as a follower without a vote, so it can be added back
	// without a restart; it reports NotLeaderError with no leader meanwhile.
	rc.ShutdownOnRemove = false
	rc.Logger = NewHCLogger(c.Logger, "raft")
	return rc
}

// bootstrapConfiguration is the configuration every member starts from.
func (c *Config) bootstrapConfiguration() raft.Configuration {
	conf := raft.Configuration{Servers: make([]raft.Server, 0, len(c.Servers))}
	for _, s := range c.Servers {
		conf.Servers = append(conf.Servers, raft.Server{
			Suffrage: raft.Voter,
			ID:       raft.ServerID(s.ID),
			Address:  raft.ServerAddress(s.Addr),
		})
	}
	return conf
}
