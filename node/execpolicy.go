package node

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/flumego/flume/conf"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/source"
	"github.com/flumego/flume/node/spec"
)

// Commands on a node are its owner's decision, not the masters'. Whoever can configure a
// logical node through the masters could otherwise run any command on any node, as the user
// the node runs as: `config x 'exec("id > /tmp/out", shell=true)' null` and `map host1 x`.
// So a node runs the exec, execStream and execPeriodic sources the masters push (Apply) only
// as its own configuration, flume.node.exec.allow, allows:
//
//   - false (and a nil policy): none of them.
//   - true: all of them, shells included.
//   - the path of a file: those whose command, split into words as the exec source splits a
//     command it runs without a shell, begins with every word of one of the file's lines.
//     Matching is word by word, so "/usr/bin/tail -F" allows "/usr/bin/tail -F /var/log/x"
//     but "/usr/bin/tail" does not allow "/usr/bin/tailor". A command that asks for a shell is
//     refused: after an allowed prefix, a shell would run whatever follows ("; rm -rf /").
//
// The file is read once, when the policy is parsed; a change takes effect when the node
// restarts. Flows given to the node locally (Start: flumed node -c, --oneshot) are its owner's
// own and are not checked.
//
// The decision is made on the parsed spec, before the flow is built: a refused logical node
// is in ERROR with the reason, and nothing of its flow is built, opened or run.

// ErrExecRefused is the error of a logical node whose exec source the node's policy refuses;
// the error it is wrapped in says why.
var ErrExecRefused = errors.New("exec source refused")

// ExecPolicy is which commands pushed by the masters a node runs (flume.node.exec.allow). It
// is immutable, so safe for concurrent use. A nil *ExecPolicy refuses every command.
type ExecPolicy struct {
	all      bool       // true: every command, shells included
	file     string     // the file the prefixes were read from; empty for false and true
	prefixes [][]string // the allowed prefixes, in words, in the order of the file
}

// ParseExecPolicy parses a value of flume.node.exec.allow: "false", "true" (in any letter
// case), or the path of a file of allowed command prefixes, which it reads and checks at once.
// In the file each line is a prefix, written as a command is (words separated by blanks,
// quotes and backslashes as the exec source reads them); blank lines and lines starting with
// '#' are ignored. An empty file allows nothing. The error names the file, and the line for a
// line that does not split into words; the caller names the property.
func ParseExecPolicy(value string) (*ExecPolicy, error) {
	value = strings.TrimSpace(value)
	switch strings.ToLower(value) {
	case "false":
		return &ExecPolicy{}, nil
	case "true":
		return AllowAllExec(), nil
	case "":
		return nil, errors.New("want false, true or the path of a file of allowed commands, got nothing")
	}
	data, err := os.ReadFile(value)
	if err != nil {
		// The *PathError names the file.
		return nil, fmt.Errorf("want false, true or a file of allowed commands: %w", err)
	}
	p := &ExecPolicy{file: value}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		words, err := source.SplitCommand(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", value, i+1, err)
		}
		p.prefixes = append(p.prefixes, words)
	}
	return p, nil
}

// AllowAllExec returns the policy that runs every command the masters push, shells included:
// flume.node.exec.allow=true, as a node that trusts its masters entirely (flumed dev) has it.
func AllowAllExec() *ExecPolicy { return &ExecPolicy{all: true} }

// String returns the policy as flume.node.exec.allow writes it: false, true, or the file.
func (p *ExecPolicy) String() string {
	switch {
	case p == nil || (!p.all && p.file == ""):
		return "false"
	case p.all:
		return "true"
	}
	return p.file
}

// allow returns nil if the policy runs c, or an ErrExecRefused that says why not.
func (p *ExecPolicy) allow(c source.Command) error {
	switch {
	case p != nil && p.all:
		return nil
	case p == nil || p.file == "":
		return fmt.Errorf("%w: this node runs no commands pushed by the masters (%s is false; see docs/security.md)",
			ErrExecRefused, conf.NodeExecAllow)
	case c.Shell:
		return fmt.Errorf("%w: %q asks for a shell, which %s allows only when true (it is %s)",
			ErrExecRefused, c.Line, conf.NodeExecAllow, p.file)
	}
	words, err := source.SplitCommand(c.Line)
	if err != nil {
		return fmt.Errorf("%w: %q: %w", ErrExecRefused, c.Line, err)
	}
	for _, prefix := range p.prefixes {
		if hasPrefix(words, prefix) {
			return nil
		}
	}
	return fmt.Errorf("%w: %q matches no prefix of %s (%s)", ErrExecRefused, c.Line, p.file, conf.NodeExecAllow)
}

// hasPrefix reports whether words begins with every word of prefix, each equal in full.
func hasPrefix(words, prefix []string) bool {
	if len(prefix) == 0 || len(words) < len(prefix) {
		return false
	}
	for i, w := range prefix {
		if words[i] != w {
			return false
		}
	}
	return true
}

// checkExec applies the node's policy to a definition the masters assigned: nil unless its
// source runs a command the policy refuses. The source's arguments are bound to its signature
// as the builder would bind them, so exec("cmd"), exec(cmd="cmd") and shell= in any form are
// read alike; a call that does not bind is refused with the binding's error, which the build
// would have given anyway.
func (n *Node) checkExec(def *spec.NodeDef) error {
	if def.Source == nil || !source.IsCommandSource(def.Source.Name) {
		return nil
	}
	e, ok := n.reg.Lookup(plugin.KindSource, def.Source.Name)
	if !ok {
		// A registry without exec sources cannot run them: the build reports the name.
		return nil
	}
	args, err := e.Signature.Bind(def.Source)
	if err != nil {
		return err
	}
	return n.cfg.ExecPolicy.allow(source.CommandOf(args))
}
