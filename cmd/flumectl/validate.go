package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/flumego/flume/cmd/internal/cli"
	"github.com/flumego/flume/node/flow"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

func newValidateCommand(reg *plugin.Registry) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "validate ['SOURCE' 'SINK' | 'SPEC' | -f FILE]",
		Short: "Check a dataflow spec and print its canonical form",
		Long: `Check a dataflow spec without running it: the syntax, every component name and every
argument, exactly as the master checks a config before accepting it. On success the canonical
form is printed; otherwise each error is printed as FILE:LINE:COL: message and the exit status
is 1.

Give a source and a sink as two arguments, a whole spec ('name : source | sink ;' lines) as one
argument, or a spec file with -f.`,
		Example: `  flumectl validate 'tail("/var/log/app.log")' 'value("dc", "east") console'
  flumectl validate 'web1 : text("/etc/hosts") | console(json) ;'
  flumectl validate -f flows.flume`,
		RunE: func(cmd *cobra.Command, args []string) error {
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			switch {
			case file != "" && len(args) == 0:
				b, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("read spec file: %w", err)
				}
				return validateNodes(out, errOut, reg, string(b), file)
			case file == "" && len(args) == 1:
				return validateNodes(out, errOut, reg, args[0], "spec")
			case file == "" && len(args) == 2:
				return validatePair(out, errOut, reg, args[0], args[1])
			}
			return fmt.Errorf("validate takes 'SOURCE' 'SINK', one 'SPEC', or -f FILE; see flumectl help validate")
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "spec file to check")
	return cmd
}

func validateNodes(out, errOut io.Writer, reg *plugin.Registry, text, label string) error {
	// Definitions that parsed are checked even when others did not, so every error shows.
	defs, err := spec.ParseNodes(text)
	errs := spec.ErrorList(spec.Errors(err))
	for _, d := range defs {
		errs = append(errs, spec.Errors(flow.Validate(reg, d.Source, d.Sink))...)
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b *spec.Error) int {
			return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
		})
		return printErrors(errOut, spec.WithFile(errs, label))
	}
	_, err = io.WriteString(out, spec.FormatNodes(defs))
	return err
}

func validatePair(out, errOut io.Writer, reg *plugin.Registry, srcText, sinkText string) error {
	var errs spec.ErrorList
	src, err := spec.ParseSource(srcText)
	if err != nil {
		errs = append(errs, spec.Errors(spec.WithFile(err, "source"))...)
	}
	snk, err := spec.ParseSink(sinkText)
	if err != nil {
		errs = append(errs, spec.Errors(spec.WithFile(err, "sink"))...)
	}
	if len(errs) == 0 {
		for _, e := range spec.Errors(flow.Validate(reg, src, nil)) {
			errs = append(errs, spec.Errors(spec.WithFile(e, "source"))...)
		}
		for _, e := range spec.Errors(flow.Validate(reg, nil, snk)) {
			errs = append(errs, spec.Errors(spec.WithFile(e, "sink"))...)
		}
	}
	if len(errs) > 0 {
		return printErrors(errOut, errs)
	}
	_, err = fmt.Fprintf(out, "%s | %s\n", spec.FormatCall(src), spec.FormatSink(snk))
	return err
}

func printErrors(w io.Writer, err error) error {
	for _, e := range spec.Errors(err) {
		fmt.Fprintln(w, e)
	}
	return cli.ExitError{Code: 1}
}
