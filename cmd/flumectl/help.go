package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flumego/flume/node/plugin"
)

// newHelpCommand replaces cobra's help command so that `flumectl help components` lists the
// component catalog; `flumectl help CMD` still shows a command's help.
func newHelpCommand(reg *plugin.Registry) *cobra.Command {
	return &cobra.Command{
		Use:   "help [components | command]",
		Short: "Help about a command, or the list of components",
		Long: `Help about any command. 'flumectl help components' lists every source, sink,
decorator and output format with its usage string.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && args[0] == "components" {
				return printComponents(cmd.OutOrStdout(), reg)
			}
			target, _, err := cmd.Root().Find(args)
			if err != nil || target == nil {
				return fmt.Errorf("unknown help topic %q; try 'flumectl help components' or 'flumectl help'", strings.Join(args, " "))
			}
			return target.Help()
		},
	}
}

// printComponents writes the catalog: per kind, each component's usage and description.
func printComponents(w io.Writer, reg *plugin.Registry) error {
	sections := []struct {
		kind  plugin.Kind
		title string
	}{
		{plugin.KindSource, "SOURCES"},
		{plugin.KindSink, "SINKS"},
		{plugin.KindDecorator, "DECORATORS"},
		{plugin.KindFormat, "OUTPUT FORMATS"},
	}
	var b strings.Builder
	for i, s := range sections {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s.title)
		b.WriteByte('\n')
		for _, e := range reg.Entries(s.kind) {
			fmt.Fprintf(&b, "  %s\n", e.Usage())
			if e.Doc != "" {
				fmt.Fprintf(&b, "      %s\n", e.Doc)
			}
		}
	}
	b.WriteString("\nSink expressions also combine sinks: [a, b] (fan-out), < a ? b > (failover),\n" +
		"deco sink or { deco => sink } (decorate), roll(ms) { sink }, collector(ms) { sink }.\n")
	_, err := io.WriteString(w, b.String())
	return err
}
