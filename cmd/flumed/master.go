package main

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/flumego/flume/conf"
	"github.com/flumego/flume/master"
	"github.com/flumego/flume/node/builtin"
)

// masterConfig is the configuration of `flumed master`.
type masterConfig struct {
	ServerID int      // --serverid; -1 leaves flume.master.serverid as configured
	Join     bool     // --join: wait to be added to a running ensemble instead of bootstrapping
	ConfDir  string   // --conf
	DataDir  string   // --data-dir; "" leaves flume.master.data.dir as configured
	Props    []string // -D name=value
	LogLevel string

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
	peers, err := master.PeersFromServers(p.List(conf.MasterServers), master.Ports{
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
	m, err := master.Open(master.Config{
		ID: strconv.Itoa(id), Peers: peers, DataDir: p.String(conf.MasterDataDir), Join: cfg.Join,
		Registry: builtin.Registry(), Logger: logger,
		HeartbeatPeriod:    p.Duration(conf.HeartbeatPeriod),
		HeartbeatMissedMax: int(p.Int(conf.HeartbeatMissedMax)),
	})
	if err != nil {
		return err
	}
	logger.Info("master running", "serverid", id, "admin", peers[id].Admin, "nodes", peers[id].Node, "raft", peers[id].Raft,
		"masters", len(peers), "majority", len(peers)/2+1)
	<-cmd.Context().Done()
	logger.Info("master stopping")
	return m.Close()
}
