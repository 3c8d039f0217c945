// Package cli holds what the Flume commands share: running a cobra command tree and turning its
// outcome into a process exit status.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// ExitError ends a command with an exit status; its message has already been printed.
type ExitError struct{ Code int }

// Error returns "exit status N".
func (e ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Streams are a command's standard input, output and error.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// Run executes root with args and returns the exit status: 0 on success, the code of an
// ExitError, or 2 for any other error, which is printed as "program: error".
func Run(ctx context.Context, root *cobra.Command, args []string, s Streams) int {
	root.SilenceUsage = true
	root.SilenceErrors = true
	root.SetArgs(args)
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	err := root.ExecuteContext(ctx)
	var ee ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.Code
	default:
		fmt.Fprintf(s.Err, "%s: %v\n", root.Name(), err)
		return 2
	}
}

// Main runs a program: run is called with a context cancelled on SIGINT or SIGTERM and the
// process's streams, and its result is the exit status.
func Main(run func(ctx context.Context, args []string, s Streams) int) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
