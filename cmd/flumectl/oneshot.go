package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flumego/flume/cmd/internal/cli"
	"github.com/flumego/flume/master/command"
	"github.com/flumego/flume/master/state"
	"github.com/flumego/flume/node/builtin"
	"github.com/flumego/flume/node/spec"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// oneShotCommands are the shell's commands as one-shot commands, and save and load.
func oneShotCommands(r *remote) []*cobra.Command {
	viaShell := func(use, short string, args cobra.PositionalArgs) *cobra.Command {
		name, _, _ := strings.Cut(use, " ")
		return &cobra.Command{Use: use, Short: short, Args: args,
			RunE: func(cmd *cobra.Command, args []string) error {
				sh := &shell{r: r, out: cmd.OutOrStdout(), connect: true}
				var err error
				switch name {
				case "submit":
					err = sh.exec(cmd.Context(), name, args)
				case "wait":
					err = sh.wait(cmd.Context(), args)
				case "waitForNodesActive":
					err = sh.waitNodes(cmd.Context(), args, flumev1.LogicalNodeState_LOGICAL_NODE_STATE_ACTIVE,
						flumev1.LogicalNodeState_LOGICAL_NODE_STATE_CONFIGURING)
				case "waitForNodesDone":
					err = sh.waitNodes(cmd.Context(), args, flumev1.LogicalNodeState_LOGICAL_NODE_STATE_IDLE,
						flumev1.LogicalNodeState_LOGICAL_NODE_STATE_ERROR, flumev1.LogicalNodeState_LOGICAL_NODE_STATE_LOST)
				}
				if err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					return cli.ExitError{Code: 1}
				}
				return nil
			}}
	}
	return []*cobra.Command{
		viaShell("submit COMMAND [ARGS...]", "Run a master command and print its id (for wait)", cobra.MinimumNArgs(1)),
		viaShell("wait MILLIS ID", "Report the outcome of command ID; fail if it failed", cobra.ExactArgs(2)),
		viaShell("waitForNodesActive MILLIS NODE...", "Wait until the logical nodes are ACTIVE or CONFIGURING (0 = no limit)", cobra.MinimumNArgs(2)),
		viaShell("waitForNodesDone MILLIS NODE...", "Wait until the logical nodes are IDLE, ERROR or LOST (0 = no limit)", cobra.MinimumNArgs(2)),
		{Use: "load FILE", Short: "Configure the logical nodes of a spec file (one version for all)", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error { return load(cmd, r, args[0]) }},
		{Use: "save FILE", Short: "Write every configuration to a spec file (the old one kept as FILE~)", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error { return save(cmd.Context(), r, args[0]) }},
	}
}

// load checks a spec file here, so errors name the file, line and column, then submits it.
func load(cmd *cobra.Command, r *remote, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if _, err := command.ParseSpecFile(string(b), file, builtin.Registry()); err != nil {
		for _, e := range spec.Errors(err) {
			fmt.Fprintln(cmd.ErrOrStderr(), e)
		}
		return cli.ExitError{Code: 1}
	}
	return runExec(cmd, r, []string{"multiconfig", string(b)})
}

// save writes the submitted configurations as a spec file. A flow other than the default one
// cannot be written in a spec line, so it is kept in a comment above the node.
func save(ctx context.Context, r *remote, file string) error {
	var resp *flumev1.GetConfigsResponse
	err := r.call(ctx, func(ctx context.Context, c flumev1.AdminServiceClient) (err error) {
		resp, err = c.GetConfigs(ctx, &flumev1.GetConfigsRequest{})
		return err
	})
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, sc := range resp.GetSubmitted() {
		c := sc.GetConfig()
		if c.GetFlow() != state.DefaultFlow {
			fmt.Fprintf(&b, "// flow %s\n", c.GetFlow())
		}
		fmt.Fprintf(&b, "%s : %s | %s ;\n", c.GetNode(), c.GetSource(), c.GetSink())
	}
	if _, err := os.Stat(file); err == nil {
		if err := os.Rename(file, file+"~"); err != nil {
			return fmt.Errorf("save: keep the previous file: %w", err)
		}
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}
