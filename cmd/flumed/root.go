package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/flumego/flume/cmd/internal/cli"
	"github.com/flumego/flume/cmd/internal/version"
)

// run executes flumed with args and returns the process exit status.
func run(ctx context.Context, args []string, s cli.Streams) int {
	root := &cobra.Command{
		Use:   "flumed",
		Short: "Flume daemon: runs masters and nodes of a Flume log collection system",
	}
	root.AddCommand(
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  cobra.NoArgs,
			Run: func(cmd *cobra.Command, _ []string) {
				fmt.Fprintln(cmd.OutOrStdout(), version.String("flumed"))
			},
		},
		newNodeCommand(),
		newMasterCommand(),
		newDevCommand(),
		newTLSCommand(),
	)
	return cli.Run(ctx, root, args, s)
}
