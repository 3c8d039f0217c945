package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flumego/flume/cmd/internal/cli"
	"github.com/flumego/flume/node"
	"github.com/flumego/flume/node/builtin"
	"github.com/flumego/flume/node/spec"
)

// nodeConfig is the configuration of `flumed node`.
type nodeConfig struct {
	Name     string
	Spec     string // the -c value: spec text, or @file
	Oneshot  bool
	NoStatus bool
	DataDir  string
	Props    []string // -D name=value
	LogLevel string
}

func (c *nodeConfig) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&c.Name, "name", "n", "", "physical node name (default: the host name)")
	f.StringVarP(&c.Spec, "config", "c", "", "dataflow spec to run, 'name : source | sink ;' lines, or @FILE to read them from a file")
	f.BoolVarP(&c.Oneshot, "oneshot", "1", false, "exit when every flow has ended (a source such as text() reached its end)")
	f.BoolVarP(&c.NoStatus, "nostatus", "s", false, "do not serve the status web page")
	f.StringVar(&c.DataDir, "data-dir", "data", "directory for the node's state")
	f.StringArrayVarP(&c.Props, "define", "D", nil, "set a configuration property, name=value (repeatable)")
	f.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
}

// Validate checks the flags.
func (c *nodeConfig) Validate() error {
	if strings.TrimSpace(c.Spec) == "" {
		return fmt.Errorf("-c is required: give the flows to run, e.g. -c 'demo : asciisynth(10, 20) | console ;'")
	}
	props, err := c.props()
	if err != nil {
		return err
	}
	if _, err := node.CheckProps(props, "-D"); err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	return nil
}

func (c *nodeConfig) props() (map[string]string, error) {
	out := make(map[string]string, len(c.Props))
	for _, p := range c.Props {
		name, value, ok := strings.Cut(p, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("-D %q: want name=value", p)
		}
		out[strings.TrimSpace(name)] = value
	}
	return out, nil
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
		Use:   "node -c SPEC [-n NAME] [--oneshot]",
		Short: "Run a physical node",
		Long: `Run a physical node and the logical nodes given with -c.

The spec is the classic Flume dataflow language, one 'name : source | sink ;' definition per
logical node. With --oneshot the node exits once every flow has ended, with status 0 if they all
ended cleanly and 1 if one failed; otherwise it runs until interrupted.`,
		Example: `  flumed node --oneshot -n demo -c 'demo : asciisynth(5, 20) | console ;'
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
	props, _ := cfg.props()
	unknown, _ := node.CheckProps(props, "-D")
	for _, u := range unknown {
		logger.Warn(u)
	}
	n := node.New(node.Config{Name: cfg.Name, DataDir: cfg.DataDir, Props: props, Logger: logger,
		Stdin: stdin, Stdout: stdout}, builtin.Registry())
	if err := n.Start(defs); err != nil {
		return printSpecErrors(stderr, spec.WithFile(err, label))
	}
	if cfg.Oneshot {
		err = n.Wait(ctx)
	} else {
		<-ctx.Done()
	}
	if ctx.Err() != nil {
		closeTimeout := time.Duration(propInt(props, "flume.node.close.timeout", 30_000)) * time.Millisecond
		stopCtx, cancel := context.WithTimeout(context.Background(), closeTimeout)
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

// propInt returns the integer property name, or def; properties were checked at start.
func propInt(props map[string]string, name string, def int64) int64 {
	if v, err := strconv.ParseInt(props[name], 10, 64); err == nil {
		return v
	}
	return def
}
