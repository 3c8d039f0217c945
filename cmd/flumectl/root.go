package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/flumego/flume/cmd/internal/cli"
	"github.com/flumego/flume/cmd/internal/version"
	"github.com/flumego/flume/node/builtin"
)

// run executes flumectl with args and returns the process exit status.
func run(ctx context.Context, args []string, s cli.Streams) int {
	root := &cobra.Command{
		Use:   "flumectl",
		Short: "Flume shell: manage the masters, validate dataflow specs, list components",
	}
	reg := builtin.Registry()
	root.SetHelpCommand(newHelpCommand(reg))
	root.AddCommand(
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  cobra.NoArgs,
			Run: func(cmd *cobra.Command, _ []string) {
				fmt.Fprintln(cmd.OutOrStdout(), version.String("flumectl"))
			},
		},
		newValidateCommand(reg),
	)
	r := &remote{}
	r.register(root)
	root.AddCommand(commandCommands(r)...)
	root.AddCommand(queryCommands(r)...)
	root.AddCommand(newShellCommand(r))
	root.AddCommand(oneShotCommands(r)...)
	root.AddCommand(aclCommand(r))
	return cli.Run(ctx, root, args, s)
}
