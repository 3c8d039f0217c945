package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flumego/flume/cmd/internal/cli"
	"github.com/flumego/flume/commitpoint"
	"github.com/flumego/flume/conf"
	"github.com/flumego/flume/master/client"
	"github.com/flumego/flume/master/ensemble"
	"github.com/flumego/flume/node"
	"github.com/flumego/flume/node/builtin"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/localcommit"
	"github.com/flumego/flume/node/spec"
	"github.com/flumego/flume/node/web"
)

// nodeConfig is the configuration of `flumed node`.
type nodeConfig struct {
	Name     string
	Spec     string // the -c value: spec text, or @file
	Oneshot  bool
	NoStatus bool
	ConfDir  string   // --conf: directory of flume-site.xml
	DataDir  string   // --data-dir; "" leaves flume.node.data.dir as configured
	Props    []string // -D name=value
	LogLevel string
	Report   string // --report: file the node's metrics are written to when it stops
	Bind     string // --bind: flume.node.bind
	Insecure bool   // --insecure: allow plaintext off loopback

	// Set by Validate: the properties (file, -D, flags) and their warnings, logged at start.
	props    *conf.Config
	warnings []conf.Warning
	sec      *security
	exec     *node.ExecPolicy
}

func (c *nodeConfig) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&c.Name, "name", "n", "", "physical node name (default: the host name)")
	f.StringVarP(&c.Spec, "config", "c", "", "dataflow spec to run, 'name : source | sink ;' lines, or @FILE to read them from a file")
	f.BoolVarP(&c.Oneshot, "oneshot", "1", false, "exit when every flow has ended (a source such as text() reached its end)")
	f.BoolVarP(&c.NoStatus, "nostatus", "s", false, "do not serve the status web page")
	f.StringVar(&c.ConfDir, "conf", "", "directory holding flume-site.xml (default: $"+conf.EnvConfDir+")")
	f.StringVar(&c.DataDir, "data-dir", "", "directory for the node's state (default: property "+conf.NodeDataDir+", \"data\")")
	f.StringArrayVarP(&c.Props, "define", "D", nil, "set a configuration property, name=value (repeatable; overrides flume-site.xml)")
	f.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&c.Report, "report", "", "write the node's metrics as JSON to this file when it stops (for batch runs)")
	f.StringVar(&c.Bind, "bind", "", "address every listener binds: status page, collector and syslog sources (property "+conf.NodeBind+", default 127.0.0.1)")
	f.BoolVar(&c.Insecure, "insecure", false, "serve off loopback without TLS (warned about at every start; see docs/security.md)")
}

// Validate checks the flags.
func (c *nodeConfig) Validate() error {
	if strings.TrimSpace(c.Spec) == "" && c.Oneshot {
		return fmt.Errorf("-c is required with --oneshot: give the flows to run, e.g. -c 'demo : asciisynth(10, 20) | console ;'")
	}
	if err := c.loadProps(); err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// loadProps reads the configuration properties: flume-site.xml, then -D, then the flags that
// stand for properties. A bad value is an error; unknown and ignored properties are warnings,
// logged when the node starts.
func (c *nodeConfig) loadProps() error {
	props, err := conf.Load(conf.Options{ConfDir: c.ConfDir, Defines: c.Props})
	if err != nil {
		return err
	}
	if c.DataDir != "" {
		props.Set(conf.NodeDataDir, c.DataDir, conf.Flag("data-dir"))
	}
	if c.Bind != "" {
		props.Set(conf.NodeBind, c.Bind, conf.Flag("bind"))
	}
	warnings, err := props.Validate()
	if err != nil {
		return err
	}
	c.props, c.warnings = props, warnings
	if c.sec, err = loadSecurity(props, c.Insecure); err != nil {
		return err
	}
	if c.exec, err = node.ParseExecPolicy(props.String(conf.NodeExecAllow)); err != nil {
		return &conf.Error{Origin: props.Origin(conf.NodeExecAllow), Name: conf.NodeExecAllow, Msg: err.Error()}
	}
	return c.checkBinds()
}

// checkBinds refuses listeners off loopback without TLS (unless --insecure): the status page,
// and the collector and syslog sources the node may be given.
func (c *nodeConfig) checkBinds() error {
	var errs []error
	if !c.NoStatus {
		errs = append(errs, c.sec.checkListen("the status page", conf.NodeStatusBind, c.props.String(conf.NodeStatusBind)))
	}
	errs = append(errs,
		c.sec.checkListen("collector sources", conf.CollectorBind, c.props.String(conf.CollectorBind)),
		c.sec.checkListen("syslog sources", conf.SyslogBind, c.props.String(conf.SyslogBind)))
	return errors.Join(errs...)
}

// listenHosts are the hosts the node's listeners bind, for the insecure warning.
func (c *nodeConfig) listenHosts() []string {
	var out []string
	for _, name := range []string{conf.NodeStatusBind, conf.CollectorBind, conf.SyslogBind} {
		out = append(out, net.JoinHostPort(c.props.String(name), "0"))
	}
	return out
}

// reportedHost is the host the node reports to the masters, where other nodes reach its
// collectors: its bind address when that is one address, else its host name.
func (c *nodeConfig) reportedHost() string {
	h := c.props.String(conf.CollectorBind)
	if ip := net.ParseIP(h); h == "" || ip != nil && ip.IsUnspecified() {
		return event.Hostname()
	}
	return h
}

// specText returns the spec and a label for error positions: "-c" or the file name.
func (c *nodeConfig) specText() (text, label string, err error) {
	if file, ok := strings.CutPrefix(c.Spec, "@"); ok {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", "", fmt.Errorf("read spec file: %w", err)
		}
		return string(b), file, nil
	}
	return c.Spec, "-c", nil
}

func newNodeCommand() *cobra.Command {
	cfg := &nodeConfig{}
	cmd := &cobra.Command{
		Use:   "node [-n NAME] [-c SPEC [--oneshot]]",
		Short: "Run a physical node",
		Long: `Run a physical node. Without -c it keeps a session with the masters listed in
flume.master.servers (or flume.master.heartbeat.servers) and runs the logical nodes they assign
to it, until interrupted; with -c it runs the logical nodes given and no master is involved.

The spec is the classic Flume dataflow language, one 'name : source | sink ;' definition per
logical node. With --oneshot the node exits once every flow has ended, with status 0 if they all
ended cleanly and 1 if one failed; otherwise it runs until interrupted.

Configuration properties (flume.tail.pollperiod, flume.event.max.size.bytes, ...) come from
flume-site.xml in the --conf directory, or in $FLUME_CONF_DIR; -D name=value overrides the file,
and flags override both. A bad value stops the node with status 2; an unknown property is a
warning.`,
		Example: `  flumed node -n host1 -D flume.master.servers=master1,master2,master3
  flumed node --oneshot -n demo -c 'demo : asciisynth(5, 20) | console ;'
  flumed node -c @flows.flume`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Validate(); err != nil {
				return err
			}
			return runNode(cmd.Context(), cfg, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cfg.register(cmd)
	return cmd
}

func runNode(ctx context.Context, cfg *nodeConfig, stdin io.Reader, stdout, stderr io.Writer) error {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	if strings.TrimSpace(cfg.Spec) == "" {
		return runManagedNode(ctx, cfg, logger, stdin, stdout)
	}
	text, label, err := cfg.specText()
	if err != nil {
		return err
	}
	defs, err := spec.ParseNodes(text)
	if err == nil && len(defs) == 0 {
		err = &spec.Error{Msg: "no logical node defined; want 'name : source | sink ;'"}
	}
	if err != nil {
		return printSpecErrors(stderr, spec.WithFile(err, label))
	}
	// Flows given on the node's own command line may run commands: the policy is for flows
	// the masters push.
	n, stopStatus, err := newPhysicalNode(cfg, logger, stdin, stdout, nil, nil)
	if err != nil {
		return err
	}
	defer stopStatus()
	if err := n.Start(defs); err != nil {
		return printSpecErrors(stderr, spec.WithFile(err, label))
	}
	if cfg.Report != "" {
		defer writeReport(cfg.Report, n, logger)
	}
	if cfg.Oneshot {
		err = n.Wait(ctx)
	} else {
		<-ctx.Done()
	}
	if ctx.Err() != nil {
		stopCtx, cancel := context.WithTimeout(context.Background(), cfg.props.Duration(conf.NodeCloseTimeout))
		defer cancel()
		err = n.Stop(stopCtx)
	}
	if err != nil {
		return cli.ExitError{Code: 1} // the node has logged each failed logical node
	}
	return nil
}

// printSpecErrors prints each spec error on its own line and returns exit status 2.
func printSpecErrors(w io.Writer, err error) error {
	for _, e := range spec.Errors(err) {
		fmt.Fprintln(w, e)
	}
	return cli.ExitError{Code: 2}
}

// runManagedNode runs a node that the masters configure, until ctx ends.
func runManagedNode(ctx context.Context, cfg *nodeConfig, logger *slog.Logger, stdin io.Reader, stdout io.Writer) error {
	masters, err := nodeMasters(cfg.props)
	if err != nil {
		return err
	}
	cl, err := cfg.sec.masterClient(masters, client.Options{Retry: node.CommitRetry, AttemptTimeout: node.CommitAttemptTimeout})
	if err != nil {
		return err
	}
	defer cl.Close()
	n, stopStatus, err := newPhysicalNode(cfg, logger, stdin, stdout, node.NewMasterCommits(cl), cfg.exec)
	if err != nil {
		return err
	}
	defer stopStatus()
	logger.Info("node running", "masters", strings.Join(masters, ","), "tls", cfg.sec.tls != nil, "token", cfg.sec.token != "")
	err = node.NewSession(n, node.SessionConfig{Client: cl, Host: cfg.reportedHost()}).Run(ctx)
	stopCtx, cancel := context.WithTimeout(context.Background(), cfg.props.Duration(conf.NodeCloseTimeout))
	defer cancel()
	if stopErr := n.Stop(stopCtx); err == nil && stopErr != nil {
		return cli.ExitError{Code: 1} // the node has logged each failed logical node
	}
	return err
}

// nodeMasters returns the node service addresses of the masters: flume.master.heartbeat.servers
// when set, else the node port of each master of flume.master.servers.
func nodeMasters(props *conf.Config) ([]string, error) {
	port := int(props.Int(conf.MasterHeartbeatPort))
	if hb := props.Addrs(conf.MasterHeartbeatServers, port); len(hb) > 0 {
		return hb, nil
	}
	peers, err := ensemble.PeersFromServers(props.List(conf.MasterServers), ensemble.Ports{
		Web: int(props.Int(conf.MasterHTTPPort)), Node: port,
		Admin: int(props.Int(conf.MasterAdminPort)), Raft: int(props.Int(conf.MasterRaftPort)),
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, len(peers))
	for i, p := range peers {
		out[i] = p.Node
	}
	return out, nil
}

// newPhysicalNode logs the configuration warnings, creates the node and starts its status
// server; the returned function stops the server.
//
// commits is the commit point of end-to-end delivery; nil gives the node its own, a log in its
// data directory, for a node that runs without masters.
func newPhysicalNode(cfg *nodeConfig, logger *slog.Logger, stdin io.Reader, stdout io.Writer, commits commitpoint.Log,
	execPolicy *node.ExecPolicy) (*node.Node, func(), error) {
	for _, w := range cfg.warnings {
		logger.Warn(w.String())
	}
	cfg.sec.warnInsecure(logger, cfg.listenHosts())
	stopWatch := cfg.sec.watch(logger)
	dataDir := cfg.props.String(conf.NodeDataDir)
	var local *localcommit.Lazy
	if commits == nil {
		local = localcommit.OpenLazy(filepath.Join(dataDir, "commits"))
		commits = local
	}
	n := node.New(node.Config{Name: cfg.Name, DataDir: dataDir, Props: cfg.props.Map(),
		Logger: logger, Stdin: stdin, Stdout: stdout, Commits: commits, ExecPolicy: execPolicy,
		TLS: cfg.sec.tls, ClientAuth: cfg.sec.clientAuth}, builtin.Registry())
	stop, err := startStatus(cfg, n, logger)
	if err != nil {
		stopWatch()
		if local != nil {
			_ = local.Close()
		}
		return nil, nil, err
	}
	return n, func() {
		stop()
		stopWatch()
		if local != nil {
			_ = local.Close()
		}
	}, nil
}

// startStatus serves the node's status page, metrics and health check on
// flume.node.status.port (moving to the next free port when flume.node.http.autofindport is
// set), unless -s turned it off. The returned function stops it.
func startStatus(cfg *nodeConfig, n *node.Node, logger *slog.Logger) (func(), error) {
	if cfg.NoStatus {
		return func() {}, nil
	}
	srv, err := web.Start(web.Config{
		Addr:         net.JoinHostPort(cfg.props.String(conf.NodeStatusBind), strconv.Itoa(int(cfg.props.Int(conf.NodeStatusPort)))),
		TLS:          cfg.sec.tls,
		AutoFindPort: cfg.props.Bool(conf.NodeAutofindPort),
		Node:         n, Name: cfg.Name, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	logger.Info("status page", "addr", srv.URL())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	}, nil
}

// writeReport writes the node's metrics, name to value, as JSON to path.
func writeReport(path string, n *node.Node, logger *slog.Logger) {
	vals := map[string]int64{}
	for _, v := range n.Metrics().Snapshot() {
		vals[v.Name] = v.Value
	}
	b, err := json.MarshalIndent(vals, "", "  ")
	if err == nil {
		err = os.WriteFile(path, append(b, '\n'), 0o644)
	}
	if err != nil {
		logger.Error("write the metrics report", "file", path, "err", err)
	}
}
