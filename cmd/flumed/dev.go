package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/flumego/flume/master"
	"github.com/flumego/flume/master/client"
	"github.com/flumego/flume/master/ensemble"
	"github.com/flumego/flume/node"
	"github.com/flumego/flume/node/builtin"
	"github.com/flumego/flume/node/web"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// devConfig is the configuration of `flumed dev`.
type devConfig struct {
	DataDir   string
	Name      string
	AdminPort int
	Demo      string
	LogLevel  string
}

func newDevCommand() *cobra.Command {
	cfg := &devConfig{}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a one-master ensemble and a node in one process, on loopback, for a first run",
		Long: `Run everything in one process: a master (an ensemble of one) and a physical node that takes
its work from it, bound to 127.0.0.1 only, with their data under --data-dir. On the first run the
demo flow of deploy/demo/demo.flume, when present, is configured as the logical node "demo" on
the node, so events show at once. Try the flumectl commands it prints; stop with Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
				return fmt.Errorf("--log-level %q: want debug, info, warn or error", cfg.LogLevel)
			}
			if cfg.AdminPort != 0 && (cfg.AdminPort < 3 || cfg.AdminPort > 65534) {
				return fmt.Errorf("--admin-port %d: want 3-65534, or 0 for any free ports", cfg.AdminPort)
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: lvl}))
			return runDev(cmd.Context(), cfg, logger, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "data", "directory for the master's and the node's data")
	f.StringVarP(&cfg.Name, "name", "n", "dev", "the physical node's name")
	f.IntVar(&cfg.AdminPort, "admin-port", ensemble.DefaultAdminPort, "the master's admin port (nodes: port-1, raft: port+1); 0 picks free ports")
	f.StringVar(&cfg.Demo, "demo", filepath.Join("deploy", "demo", "demo.flume"), "spec configured on the first run, if the file exists")
	f.StringVar(&cfg.LogLevel, "log-level", "warn", "log level: debug, info, warn or error")
	return cmd
}

// devListeners binds the master's three ports on loopback: the given block, or free ports.
func devListeners(adminPort int) (raftL, adminL, nodeL net.Listener, err error) {
	listen := func(port int) (net.Listener, error) {
		return net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
	ports := [3]int{adminPort + 1, adminPort, adminPort - 1}
	if adminPort == 0 {
		ports = [3]int{}
	}
	ls := make([]net.Listener, 0, 3)
	for _, p := range ports {
		l, err := listen(p)
		if err != nil {
			for _, o := range ls {
				o.Close()
			}
			return nil, nil, nil, fmt.Errorf("listen on 127.0.0.1:%d (another flumed dev running? try --admin-port): %w", p, err)
		}
		ls = append(ls, l)
	}
	return ls[0], ls[1], ls[2], nil
}

func runDev(ctx context.Context, cfg *devConfig, logger *slog.Logger, stdout io.Writer) error {
	raftL, adminL, nodeL, err := devListeners(cfg.AdminPort)
	if err != nil {
		return err
	}
	peer := master.Peer{ID: "0", Raft: raftL.Addr().String(), Admin: adminL.Addr().String(), Node: nodeL.Addr().String()}
	m, err := master.Open(master.Config{
		ID: "0", Peers: []master.Peer{peer}, DataDir: filepath.Join(cfg.DataDir, "master"),
		RaftListener: raftL, AdminListener: adminL, NodeListener: nodeL,
		Registry: builtin.Registry(), Logger: logger,
	})
	if err != nil {
		adminL.Close()
		nodeL.Close()
		return err
	}
	defer m.Close()
	if err := waitLeader(ctx, m); err != nil {
		return err
	}
	cl, err := client.New(client.Options{Addrs: []string{peer.Node}, Retry: node.CommitRetry, AttemptTimeout: node.CommitAttemptTimeout})
	if err != nil {
		return err
	}
	defer cl.Close()
	// Everything runs on this machine for its user: the flows the master pushes may run
	// commands, as flows given on the command line may.
	n := node.New(node.Config{Name: cfg.Name, DataDir: filepath.Join(cfg.DataDir, "node"), Logger: logger,
		Stdout: stdout, Commits: node.NewMasterCommits(cl), ExecPolicy: node.AllowAllExec()}, builtin.Registry())
	statusPort := 35862
	if cfg.AdminPort == 0 {
		statusPort = 0
	}
	srv, err := web.Start(web.Config{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(statusPort)),
		AutoFindPort: true, Node: n, Name: cfg.Name, Logger: logger})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(cctx)
	}()
	sctx, stopSession := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- node.NewSession(n, node.SessionConfig{Client: cl, Host: "127.0.0.1"}).Run(sctx)
	}()
	seeded, err := seedDemo(ctx, m, cfg)
	if err != nil {
		logger.Warn("demo flow not configured", "err", err)
	}
	printDevBanner(stdout, cfg, peer.Admin, "http://"+srv.Addr()+"/", seeded)
	<-ctx.Done()
	stopSession()
	<-done
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Stop(stopCtx); err != nil {
		logger.Warn("a logical node ended in error", "err", err)
	}
	return nil
}

func waitLeader(ctx context.Context, m *master.Master) error {
	deadline := time.Now().Add(15 * time.Second)
	for !m.Store().IsLeader() {
		if time.Now().After(deadline) {
			return fmt.Errorf("the master did not become leader of its ensemble of one within 15 s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// seedDemo configures the demo flow on the first run: when nothing is configured yet and the
// demo spec exists.
func seedDemo(ctx context.Context, m *master.Master, cfg *devConfig) (bool, error) {
	text, err := os.ReadFile(cfg.Demo)
	if err != nil {
		return false, nil // no demo here: nothing to seed
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rec, err := m.Exec(cctx, []string{"noop"}, "flumed dev")
	if err != nil {
		return false, err
	}
	if rec.GetId() != 1 {
		return false, nil // not the first run: leave the user's state alone
	}
	for _, argv := range [][]string{{"multiconfig", string(text)}, {"map", cfg.Name, "demo"}} {
		rec, err := m.Exec(cctx, argv, "flumed dev")
		if err != nil {
			return false, err
		}
		if rec.GetState() != flumev1.CommandState_COMMAND_STATE_SUCCEEDED {
			return false, fmt.Errorf("%s: %s", argv[0], rec.GetMessage())
		}
	}
	return true, nil
}

func printDevBanner(w io.Writer, cfg *devConfig, admin, status string, seeded bool) {
	fmt.Fprintf(w, "Flume dev: a master (admin %s) and the node %q in this process; data in %s.\n", admin, cfg.Name, cfg.DataDir)
	fmt.Fprintf(w, "The node's status page, metrics and health check: %s (/metrics, /metrics.json, /healthz).\n", status)
	if seeded {
		fmt.Fprintf(w, "The logical node \"demo\" runs %s on it; its events follow.\n", cfg.Demo)
	}
	fmt.Fprintf(w, `Try, in another terminal:
  bin/flumectl --master %[1]s status
  bin/flumectl --master %[1]s config hello 'asciisynth(3, 20)' 'console(json)'
  bin/flumectl --master %[1]s map %[2]s hello
  bin/flumectl --master %[1]s history
  bin/flumectl --master %[1]s shell
Stop with Ctrl-C.
`, admin, cfg.Name)
}
