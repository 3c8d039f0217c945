package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/flumego/flume/cmd/internal/cli"
	"github.com/flumego/flume/internal/minihdfs"
)

// Config is what the command line sets.
type Config struct {
	Addr      string        // NameNode address
	Dir       string        // state directory
	DataNodes int           // number of DataNodes
	SoftLease time.Duration // lease soft limit
	HardLease time.Duration // lease hard limit
	BlockSize int64         // default block size the NameNode reports
	Verbose   bool          // debug logging
}

// register adds the flags to fs, with their defaults.
func (c *Config) register(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8020", "NameNode `host:port` (port 0: any free port)")
	fs.StringVar(&c.Dir, "dir", "", "state `directory` (required); kept across restarts")
	fs.IntVar(&c.DataNodes, "datanodes", 1, "number of DataNodes")
	fs.DurationVar(&c.SoftLease, "soft-lease", time.Minute, "lease soft limit")
	fs.DurationVar(&c.HardLease, "hard-lease", time.Hour, "lease hard limit")
	fs.Int64Var(&c.BlockSize, "block-size", 128<<20, "default block size in bytes")
	fs.BoolVar(&c.Verbose, "v", false, "log every call that fails")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Dir == "" {
		return errors.New("-dir is required")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("-addr %q: %w", c.Addr, err)
	}
	switch {
	case c.DataNodes < 1:
		return fmt.Errorf("-datanodes %d: at least one is needed", c.DataNodes)
	case c.SoftLease <= 0 || c.HardLease < c.SoftLease:
		return fmt.Errorf("-soft-lease %v and -hard-lease %v: need 0 < soft <= hard", c.SoftLease, c.HardLease)
	case c.BlockSize <= 0:
		return fmt.Errorf("-block-size %d: must be positive", c.BlockSize)
	}
	return nil
}

func run(ctx context.Context, args []string, s cli.Streams) int {
	var cfg Config
	fs := flag.NewFlagSet("minihdfs", flag.ContinueOnError)
	fs.SetOutput(s.Err)
	cfg.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(s.Err, "minihdfs: %v\n", err)
		return 2
	}
	if err := Run(ctx, cfg, s); err != nil {
		fmt.Fprintf(s.Err, "minihdfs: %v\n", err)
		return 1
	}
	return 0
}

// Run starts the cluster, prints the NameNode's address and serves until ctx is done.
func Run(ctx context.Context, cfg Config, s cli.Streams) error {
	level := slog.LevelInfo
	if cfg.Verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(s.Err, &slog.HandlerOptions{Level: level}))
	host, _, _ := net.SplitHostPort(cfg.Addr)
	dnAddrs := make([]string, cfg.DataNodes)
	for i := range dnAddrs {
		dnAddrs[i] = net.JoinHostPort(host, "0")
	}
	c, err := minihdfs.Start(minihdfs.Options{Dir: cfg.Dir, Addr: cfg.Addr, DataNodes: cfg.DataNodes,
		DataNodeAddrs: dnAddrs, SoftLease: cfg.SoftLease, HardLease: cfg.HardLease,
		BlockSize: cfg.BlockSize, Logger: log})
	if err != nil {
		return err
	}
	fmt.Fprintln(s.Out, c.NameNodeAddr())
	for i := 0; i < c.NumDataNodes(); i++ {
		log.Info("datanode", "index", i, "addr", c.DataNode(i).Addr(), "uuid", c.DataNode(i).UUID())
	}
	<-ctx.Done()
	log.Info("stopping")
	return c.Close()
}
