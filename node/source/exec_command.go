package source

import (
	"strings"

	"github.com/flumego/flume/node/spec"
)

// Command is the command an exec source runs, read from its bound arguments without building
// the source. A node uses it to decide whether it runs a command the masters pushed.
type Command struct {
	// Line is cmd as the spec gives it.
	Line string
	// Shell reports that Line runs through a shell (shell=true or shell="..."), which gives
	// every word of it a meaning: pipes, redirections, ';' and '$(...)'.
	Shell bool
}

// IsCommandSource reports whether the source named name runs a command: exec, execStream or
// execPeriodic. No other source of this package does.
func IsCommandSource(name string) bool {
	switch name {
	case execSig.Name, execStreamSig.Name, execPeriodicSig.Name:
		return true
	}
	return false
}

// CommandOf returns the command of an exec, execStream or execPeriodic call whose arguments
// args holds, bound to that source's signature. It runs and resolves nothing.
func CommandOf(args *spec.Args) Command {
	_, shell := shellOf(args)
	return Command{Line: args.String("cmd", ""), Shell: shell}
}

// SplitCommand splits a command line into words as an exec source that runs without a shell
// splits its cmd: the words are the argv it runs, the first one the program.
func SplitCommand(s string) ([]string, error) { return splitCommand(s) }

// shellOf returns the shell and its options that run cmd (shell=true takes the system's), and
// whether cmd runs through a shell at all: it does unless shell is false or empty.
func shellOf(args *spec.Args) (sh string, shell bool) {
	sh = strings.TrimSpace(args.String(shellParam.Name, "false"))
	switch strings.ToLower(sh) {
	case "false", "":
		return "", false
	case "true":
		return defaultShell, true
	}
	return sh, true
}
