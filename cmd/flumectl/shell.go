package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/peterh/liner"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/flumego/flume/cmd/internal/cli"
	"github.com/flumego/flume/master/command"
	"github.com/flumego/flume/node/spec"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// shell is the classic Flume shell (REFERENCE.md §6.4): connect, exec, submit, wait,
// getnodestatus, getconfigs, getmappings, waitForNodesActive, waitForNodesDone, source, quit.
type shell struct {
	r       *remote
	out     io.Writer
	quiet   bool
	lastID  uint64
	connect bool // a master address is known
}

func newShellCommand(r *remote) *cobra.Command {
	var (
		execs  []string
		script string
		quiet  bool
		addr   string
	)
	cmd := &cobra.Command{
		Use:   "shell [-c host:port] [-e CMD]... [-s SCRIPT] [-q]",
		Short: "The classic Flume shell: connect, exec, submit, wait, getnodestatus, ...",
		Long: `The classic Flume shell. Interactive on a terminal, with line editing and history;
otherwise it reads commands from standard input. -e runs commands and -s a script instead; they
stop at the first command that fails, with exit status 1.

Arguments are separated by spaces; "double quotes" take Java escapes (\t, \", \u00e9) and
'single quotes' take the text as it is.

  connect host[:port]           talk to the master at host:port (admin port, default 35873)
  exec <command> [args...]      run a master command and wait for its outcome
  submit <command> [args...]    run a master command; remembered for wait
  wait <ms> [id]                wait for a command (the last submitted by default); 0 = forever
  getnodestatus                 the state of every logical node
  getconfigs                    every logical node's configuration
  getmappings [physical]        the logical nodes of each physical node
  waitForNodesActive <ms> node...  wait until the nodes are ACTIVE or CONFIGURING
  waitForNodesDone <ms> node...    wait until the nodes are IDLE, ERROR or LOST
  source <file>                 run the commands of a file
  help, quit`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if addr != "" {
				r.master = addr
			}
			sh := &shell{r: r, out: cmd.OutOrStdout(), quiet: quiet, connect: r.master != "" || os.Getenv("FLUME_MASTER") != ""}
			ctx := cmd.Context()
			switch {
			case len(execs) > 0:
				for _, line := range execs {
					if err := sh.run(ctx, line); err != nil {
						return sh.fail(cmd.ErrOrStderr(), "-e", 0, err)
					}
				}
				return nil
			case script != "":
				return sh.source(ctx, cmd.ErrOrStderr(), script)
			}
			if f, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				return sh.interactive(ctx, cmd.ErrOrStderr())
			}
			return sh.lines(ctx, cmd.ErrOrStderr(), cmd.InOrStdin(), "stdin", false)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&addr, "connect", "c", "", "master to connect to, host[:port]")
	f.StringArrayVarP(&execs, "exec", "e", nil, "run this command and exit (repeatable)")
	f.StringVarP(&script, "script", "s", "", "run the commands of this file and exit")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only what commands return")
	return cmd
}

func (sh *shell) fail(w io.Writer, where string, line int, err error) error {
	if line > 0 {
		fmt.Fprintf(w, "%s:%d: %v\n", where, line, err)
	} else {
		fmt.Fprintf(w, "%s: %v\n", where, err)
	}
	return cli.ExitError{Code: 1}
}

// source runs a script file, stopping at the first failure.
func (sh *shell) source(ctx context.Context, errOut io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer f.Close()
	return sh.lines(ctx, errOut, f, path, true)
}

// lines runs commands read from in; stop says whether the first failure ends the run.
func (sh *shell) lines(ctx context.Context, errOut io.Writer, in io.Reader, name string, stop bool) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	failed := false
	for n := 1; sc.Scan(); n++ {
		err := sh.run(ctx, sc.Text())
		if errors.Is(err, errQuit) {
			break
		}
		if err != nil {
			_ = sh.fail(errOut, name, n, err)
			failed = true
			if stop {
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	if failed {
		return cli.ExitError{Code: 1}
	}
	return nil
}

// interactive runs the shell on a terminal, with line editing and a history file.
func (sh *shell) interactive(ctx context.Context, errOut io.Writer) error {
	ln := liner.NewLiner()
	defer ln.Close()
	ln.SetCtrlCAborts(true)
	ln.SetCompleter(func(line string) []string {
		var out []string
		for _, c := range shellCommands {
			if strings.HasPrefix(c, line) {
				out = append(out, c)
			}
		}
		return out
	})
	hist := ""
	if home, err := os.UserHomeDir(); err == nil {
		hist = filepath.Join(home, ".flume_history")
		if f, err := os.Open(hist); err == nil {
			_, _ = ln.ReadHistory(f)
			f.Close()
		}
	}
	if !sh.quiet {
		fmt.Fprintln(sh.out, "Flume shell. Type help for the commands, quit to leave.")
	}
	for {
		prompt := "[not connected] "
		if sh.connect {
			addr, _ := sh.r.address()
			prompt = "[flume " + addr + "] "
		}
		line, err := ln.Prompt(prompt)
		if errors.Is(err, liner.ErrPromptAborted) {
			continue
		}
		if err != nil { // io.EOF: Ctrl-D
			break
		}
		if strings.TrimSpace(line) != "" {
			ln.AppendHistory(line)
		}
		if err := sh.run(ctx, line); errors.Is(err, errQuit) {
			break
		} else if err != nil {
			fmt.Fprintln(errOut, err)
		}
	}
	if hist != "" {
		if f, err := os.Create(hist); err == nil {
			_, _ = ln.WriteHistory(f)
			f.Close()
		}
	}
	return nil
}

var shellCommands = []string{"connect", "exec", "submit", "wait", "getnodestatus", "getconfigs",
	"getmappings", "waitForNodesActive", "waitForNodesDone", "source", "help", "quit"}

var errQuit = errors.New("quit")

// splitArgs splits a shell line into arguments: spaces separate them, "double quotes" take
// Java escapes, 'single quotes' take the text as it is. Errors give the column.
func splitArgs(line string) ([]string, error) {
	var args []string
	for i := 0; i < len(line); {
		switch c := line[i]; {
		case c == ' ' || c == '\t':
			i++
		case c == '"':
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(line) {
				return nil, fmt.Errorf("column %d: unterminated \"quoted\" argument", i+1)
			}
			s, err := spec.Unquote(line[i : j+1])
			if err != nil {
				var se *spec.Error
				if errors.As(err, &se) {
					return nil, fmt.Errorf("column %d: %s", i+se.Col, se.Msg)
				}
				return nil, err
			}
			args, i = append(args, s), j+1
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("column %d: unterminated 'quoted' argument", i+1)
			}
			args, i = append(args, line[i+1:i+1+j]), i+j+2
		default:
			j := i
			for j < len(line) && line[j] != ' ' && line[j] != '\t' {
				j++
			}
			args, i = append(args, line[i:j]), j
		}
	}
	return args, nil
}

// run runs one shell line.
func (sh *shell) run(ctx context.Context, line string) error {
	if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
		return nil
	}
	args, err := splitArgs(line)
	if err != nil {
		return err
	}
	name, rest := args[0], args[1:]
	switch name {
	case "quit", "exit":
		return errQuit
	case "help":
		_, err := io.WriteString(sh.out, strings.Join(shellCommands, " ")+"\n"+
			"master commands for exec and submit: "+strings.Join(command.Names(), " ")+"\n")
		return err
	case "connect":
		return sh.doConnect(ctx, rest)
	case "source":
		if len(rest) != 1 {
			return errors.New("usage: source <file>")
		}
		return sh.source(ctx, io.Discard, rest[0])
	}
	if !sh.connect {
		return fmt.Errorf("%s: not connected; use connect host[:port] first", name)
	}
	switch name {
	case "exec", "submit":
		return sh.exec(ctx, name, rest)
	case "wait":
		return sh.wait(ctx, rest)
	case "getnodestatus":
		return sh.nodeStatus(ctx)
	case "getconfigs":
		return sh.configs(ctx)
	case "getmappings":
		return sh.mappings(ctx, rest)
	case "waitForNodesActive":
		return sh.waitNodes(ctx, rest, flumev1.LogicalNodeState_LOGICAL_NODE_STATE_ACTIVE, flumev1.LogicalNodeState_LOGICAL_NODE_STATE_CONFIGURING)
	case "waitForNodesDone":
		return sh.waitNodes(ctx, rest, flumev1.LogicalNodeState_LOGICAL_NODE_STATE_IDLE,
			flumev1.LogicalNodeState_LOGICAL_NODE_STATE_ERROR, flumev1.LogicalNodeState_LOGICAL_NODE_STATE_LOST)
	}
	msg := fmt.Sprintf("unknown command %q", name)
	if s := spec.Suggest(name, shellCommands); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return errors.New(msg + "; type help for the commands")
}
