package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/flumego/flume/conf"
	"github.com/flumego/flume/master"
	"github.com/flumego/flume/master/ensemble"
	"github.com/flumego/flume/node/builtin"
	"github.com/flumego/flume/raftstore"
)

// masterConfig is the configuration of `flumed master`.
type masterConfig struct {
	ServerID int      // --serverid; -1 leaves flume.master.serverid as configured
	Join     bool     // --join: wait to be added to a running ensemble instead of bootstrapping
	ConfDir  string   // --conf
	DataDir  string   // --data-dir; "" leaves flume.master.data.dir as configured
	Props    []string // -D name=value
	LogLevel string
	Bind     string // --bind: flume.master.bind
	Insecure bool   // --insecure: allow plaintext off loopback

	props *conf.Config
	warn  []conf.Warning
}

func (c *masterConfig) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.IntVarP(&c.ServerID, "serverid", "i", -1, "this master's index in flume.master.servers (default: property "+conf.MasterServerID+")")
	f.BoolVar(&c.Join, "join", false, "join a running ensemble: start empty and wait for `flumectl addmaster ID HOST` instead of bootstrapping")
	f.StringVar(&c.ConfDir, "conf", "", "directory holding flume-site.xml (default: $"+conf.EnvConfDir+")")
	f.StringVar(&c.DataDir, "data-dir", "", "directory for the master's raft log and snapshots (default: property "+conf.MasterDataDir+")")
	f.StringArrayVarP(&c.Props, "define", "D", nil, "set a configuration property, name=value (repeatable; overrides flume-site.xml)")
	f.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&c.Bind, "bind", "", "address every listener binds (property "+conf.MasterBind+"; default: this master's host in flume.master.servers)")
	f.BoolVar(&c.Insecure, "insecure", false, "serve off loopback without TLS (warned about at every start; see docs/security.md)")
}

// Validate loads and checks the properties: flume-site.xml, then -D, then the flags.
func (c *masterConfig) Validate() error {
	props, err := conf.Load(conf.Options{ConfDir: c.ConfDir, Defines: c.Props})
	if err != nil {
		return err
	}
	if c.ServerID >= 0 {
		props.Set(conf.MasterServerID, strconv.Itoa(c.ServerID), conf.Flag("serverid"))
	}
	if c.DataDir != "" {
		props.Set(conf.MasterDataDir, c.DataDir, conf.Flag("data-dir"))
	}
	if c.Bind != "" {
		props.Set(conf.MasterBind, c.Bind, conf.Flag("bind"))
	}
	if c.warn, err = props.Validate(); err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	c.props = props
	return nil
}

func newMasterCommand() *cobra.Command {
	cfg := &masterConfig{}
	cmd := &cobra.Command{
		Use:   "master [--serverid N]",
		Short: "Run a master of the ensemble",
		Long: `Run one master. Every master of the ensemble is listed in flume.master.servers (a host, or
host:port to give its admin port), and --serverid says which one this is. A majority of the
masters must be running for the ensemble to accept changes: 1 of 1, 2 of 3, 3 of 5.

To grow a running ensemble, start the new master with --join (its flume.master.servers lists it
at its server id), then add it with 'flumectl addmaster ID HOST[:PORT]'. 'flumectl removemaster
ID' takes a master out.`,
		Example: `  flumed master --serverid 0 -D flume.master.servers=127.0.0.1,127.0.0.2,127.0.0.3
  flumed master --serverid 3 --join -D flume.master.servers=127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Validate(); err != nil {
				return err
			}
			return runMaster(cmd, cfg, cmd.ErrOrStderr())
		},
	}
	cfg.register(cmd)
	return cmd
}

func runMaster(cmd *cobra.Command, cfg *masterConfig, stderr io.Writer) error {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	for _, w := range cfg.warn {
		logger.Warn(w.String())
	}
	p := cfg.props
	sec, err := loadSecurity(p, cfg.Insecure)
	if err != nil {
		return err
	}
	peers, err := ensemble.PeersFromServers(p.List(conf.MasterServers), ensemble.Ports{
		Web: int(p.Int(conf.MasterHTTPPort)), Node: int(p.Int(conf.MasterHeartbeatPort)),
		Admin: int(p.Int(conf.MasterAdminPort)), Raft: int(p.Int(conf.MasterRaftPort)),
	})
	if err != nil {
		return err
	}
	id := int(p.Int(conf.MasterServerID))
	if id >= len(peers) {
		return fmt.Errorf("serverid %d: flume.master.servers lists %d masters (ids 0 to %d)", id, len(peers), len(peers)-1)
	}
	lis, err := masterListeners(p, sec, peers[id])
	if err != nil {
		return err
	}
	m, err := master.Open(master.Config{
		ID: strconv.Itoa(id), Peers: peers, DataDir: p.String(conf.MasterDataDir), Join: cfg.Join,
		AdminListener: lis[0], NodeListener: lis[1], RaftListener: lis[2],
		Registry: builtin.Registry(), Logger: logger,
		HeartbeatPeriod:    p.Duration(conf.HeartbeatPeriod),
		HeartbeatMissedMax: int(p.Int(conf.HeartbeatMissedMax)),
		Raft: raftstore.Config{
			HeartbeatTimeout:   p.Duration(conf.MasterRaftHeartbeatTimeout),
			ElectionTimeout:    p.Duration(conf.MasterRaftElectionTimeout),
			LeaderLeaseTimeout: p.Duration(conf.MasterRaftLeaderLeaseTimeout),
			CommitTimeout:      p.Duration(conf.MasterRaftCommitTimeout),
		},
		TLS: sec.tls, ClientAuth: sec.clientAuth, ACL: sec.acl, BootstrapSecret: sec.bootstrap,
	})
	if err != nil {
		return err
	}
	addrs := []string{lis[0].Addr().String(), lis[1].Addr().String(), lis[2].Addr().String()}
	sec.warnInsecure(logger, addrs)
	stopWatch := sec.watch(logger)
	defer stopWatch()
	logger.Info("master running", "serverid", id, "admin", addrs[0], "nodes", addrs[1], "raft", addrs[2],
		"masters", len(peers), "majority", len(peers)/2+1, "tls", sec.tls != nil, "acl", sec.acl)
	<-cmd.Context().Done()
	logger.Info("master stopping")
	return m.Close()
}

// masterListeners binds the admin, node and raft ports of master self on the addresses the
// bind properties give (the master's own host by default), after checking that none is off
// loopback without TLS.
func masterListeners(p *conf.Config, sec *security, self ensemble.Peer) ([3]net.Listener, error) {
	var out [3]net.Listener
	for i, l := range []struct{ what, property, advertised string }{
		{"the admin service", conf.MasterAdminBind, self.Admin},
		{"the node service", conf.MasterHeartbeatBind, self.Node},
		{"the raft transport", conf.MasterRaftBind, self.Raft},
	} {
		host, port, err := net.SplitHostPort(l.advertised)
		if err != nil {
			return out, err
		}
		if b := p.String(l.property); b != "" {
			host = b
		}
		addr := net.JoinHostPort(host, port)
		err = sec.checkListen(l.what, l.property, addr)
		if err == nil {
			out[i], err = net.Listen("tcp", addr)
			if err != nil {
				err = fmt.Errorf("%s: listen on %s: %w", l.what, addr, err)
			}
		}
		if err != nil {
			for _, o := range out[:i] {
				o.Close()
			}
			return out, err
		}
	}
	return out, nil
}
