// Package command turns the classic shell's command lines (config, map, unmap, ...) into the
// replicated commands the masters apply, checking every spec they hold against the component
// registry. It says which role a command needs when access control is on. Masters, flumectl
// and the web UI share it; it does not link the raft library.
package command

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/flumego/flume/master/ensemble"
	"github.com/flumego/flume/master/state"
	"github.com/flumego/flume/node/flow"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// ErrUsage is wrapped by the error for a command line that is not a valid command.
var ErrUsage = errors.New("bad command")

// Bounds of one command line. A command travels as one entry of the replicated log, which holds
// its arguments and what they parse to (about twice their size) within the log's bound on an
// entry (1 MiB): a multiconfig of thousands of nodes fits.
const (
	maxArgs         = 64
	maxCommandBytes = 480 << 10
)

// ClipName shortens a command name for messages: it comes from the caller and may be long.
func ClipName(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// commandUsage is the usage of every command that changes the state, as the classic shell
// documents them (REFERENCE.md §6.3).
var commandUsage = map[string]string{
	"config":        "config <logical> [<flow>] '<source>' '<sink>'",
	"multiconfig":   "multiconfig '<name : source | sink ; ...>'",
	"unconfig":      "unconfig <logical>",
	"refresh":       "refresh <logical>",
	"refreshAll":    "refreshAll",
	"updateAll":     "updateAll",
	"map":           "map <physical> <logical>",
	"spawn":         "spawn <physical> <logical>  (old name of map)",
	"unmap":         "unmap <physical> <logical>",
	"unmapAll":      "unmapAll  (remove every mapping but each physical node's own logical node)",
	"decommission":  "decommission <logical>",
	"setChokeLimit": "setChokeLimit <physical> <chokeId> <KB/s>",
	"noop":          "noop [<delayMillis>]",
	"purge":         "purge <logical>  (forget a LOST or DECOMMISSIONED node's status)",
	"purgeAll":      "purgeAll  (forget every status; live nodes report again)",
	"addmaster":     "addmaster <serverid> <host>[:<adminport>]  (a master started with --join)",
	"removemaster":  "removemaster <serverid>",
}

// Names returns the names of the commands that change the state, sorted.
func Names() []string {
	names := make([]string, 0, len(commandUsage))
	for n := range commandUsage {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func usageErr(name, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s; usage: %s", ErrUsage, name, fmt.Sprintf(format, args...), commandUsage[name])
}

// Parse turns a command line into the replicated command that carries it out. Every spec
// it holds is parsed and built against reg (without opening anything), so a bad config is
// refused here, with the place of each error, and never reaches the state. The command's time
// and origin are left for the caller.
func Parse(argv []string, reg *plugin.Registry) (*flumev1.Command, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("%w: empty command", ErrUsage)
	}
	// Commands are kept in the replicated history: bound what one may hold.
	size := 0
	for _, a := range argv {
		size += len(a)
	}
	if len(argv) > maxArgs || size > maxCommandBytes {
		return nil, fmt.Errorf("%w: %s: %d arguments of %d bytes in all; at most %d arguments and %d bytes",
			ErrUsage, ClipName(argv[0]), len(argv), size, maxArgs, maxCommandBytes)
	}
	name, args := argv[0], argv[1:]
	c := &flumev1.Command{Argv: append([]string(nil), argv...)}
	nargs := func(ok bool) error {
		if !ok {
			return usageErr(name, "%d arguments", len(args))
		}
		return nil
	}
	var err error
	switch name {
	case "config":
		err = nargs(len(args) == 3 || len(args) == 4)
		if err == nil {
			var nc *flumev1.NodeConfig
			nc, err = parseConfig(args, reg)
			c.Op = &flumev1.Command_SetConfigs{SetConfigs: &flumev1.SetConfigs{Configs: []*flumev1.NodeConfig{nc}}}
		}
	case "multiconfig":
		err = nargs(len(args) == 1)
		if err == nil {
			var cfgs []*flumev1.NodeConfig
			cfgs, err = ParseSpecFile(args[0], "multiconfig", reg)
			c.Op = &flumev1.Command_SetConfigs{SetConfigs: &flumev1.SetConfigs{Configs: cfgs}}
		}
	case "unconfig":
		err = nargs(len(args) == 1)
		c.Op = &flumev1.Command_Unconfig{Unconfig: &flumev1.Unconfig{Nodes: args}}
	case "refresh":
		err = nargs(len(args) == 1)
		c.Op = &flumev1.Command_Refresh{Refresh: &flumev1.Refresh{Nodes: args}}
	case "refreshAll", "updateAll":
		err = nargs(len(args) == 0)
		c.Op = &flumev1.Command_Refresh{Refresh: &flumev1.Refresh{All: true}}
	case "map", "spawn":
		err = nargs(len(args) == 2)
		if err == nil {
			c.Op = &flumev1.Command_MapNode{MapNode: &flumev1.MapNode{Physical: args[0], Logical: args[1]}}
		}
	case "unmap":
		err = nargs(len(args) == 2)
		if err == nil {
			c.Op = &flumev1.Command_UnmapNode{UnmapNode: &flumev1.UnmapNode{Physical: args[0], Logical: args[1]}}
		}
	case "unmapAll":
		err = nargs(len(args) == 0)
		c.Op = &flumev1.Command_UnmapNode{UnmapNode: &flumev1.UnmapNode{All: true}}
	case "decommission":
		err = nargs(len(args) == 1)
		c.Op = &flumev1.Command_Decommission{Decommission: &flumev1.Decommission{Nodes: args}}
	case "setChokeLimit":
		err = nargs(len(args) == 3)
		if err == nil {
			var kbps int64
			kbps, err = strconv.ParseInt(args[2], 10, 64)
			if err != nil || kbps < 0 {
				err = usageErr(name, "limit %q is not a whole number of KB/s", args[2])
			}
			c.Op = &flumev1.Command_SetChokeLimit{SetChokeLimit: &flumev1.SetChokeLimit{Physical: args[0], ChokeId: args[1], LimitKbps: kbps}}
		}
	case "noop":
		err = nargs(len(args) <= 1)
		if err == nil && len(args) == 1 {
			if ms, perr := strconv.ParseInt(args[0], 10, 64); perr != nil || ms < 0 {
				err = usageErr(name, "delay %q is not a whole number of milliseconds", args[0])
			}
		}
		c.Op = &flumev1.Command_Noop{Noop: &flumev1.Noop{}}
	case "purge", "purgeAll":
		// Statuses are the leader's soft state, not replicated: the command is recorded in the
		// history like any other, and the leader forgets the statuses once it is applied.
		err = nargs((name == "purge" && len(args) == 1) || (name == "purgeAll" && len(args) == 0))
		c.Op = &flumev1.Command_Noop{Noop: &flumev1.Noop{}}
	case "addmaster":
		err = nargs(len(args) == 2)
		if err == nil {
			var p ensemble.Peer
			if p, err = ensemble.PeerOf(args[0], args[1], ensemble.DefaultPorts); err != nil {
				err = usageErr(name, "%v", err)
			}
			c.Op = &flumev1.Command_AddMaster{AddMaster: &flumev1.AddMaster{Master: &flumev1.MasterAddress{
				Id: p.ID, Raft: p.Raft, Admin: p.Admin, Node: p.Node}}}
		}
	case "removemaster":
		err = nargs(len(args) == 1)
		if err == nil && args[0] == "" {
			err = usageErr(name, "empty server id")
		}
		if err == nil {
			c.Op = &flumev1.Command_RemoveMaster{RemoveMaster: &flumev1.RemoveMaster{Id: args[0]}}
		}
	default:
		msg := fmt.Sprintf("unknown command %q", name)
		if s := spec.Suggest(name, Names()); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return nil, fmt.Errorf("%w: %s", ErrUsage, msg)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// parseConfig checks `config <logical> [<flow>] <source> <sink>` and returns it with the
// specs in canonical form.
func parseConfig(args []string, reg *plugin.Registry) (*flumev1.NodeConfig, error) {
	nc := &flumev1.NodeConfig{Node: args[0], Flow: state.DefaultFlow}
	if len(args) == 4 {
		nc.Flow, args = args[1], append(args[:1:1], args[2:]...)
	}
	if err := checkName(nc.Node); err != nil {
		return nil, err
	}
	src, err := spec.ParseSource(args[1])
	var errs spec.ErrorList
	if err != nil {
		errs = append(errs, spec.Errors(spec.WithFile(err, "source"))...)
	}
	snk, err := spec.ParseSink(args[2])
	if err != nil {
		errs = append(errs, spec.Errors(spec.WithFile(err, "sink"))...)
	}
	if len(errs) == 0 {
		errs = append(errs, spec.Errors(spec.WithFile(flow.Validate(reg, src, nil), "source"))...)
		errs = append(errs, spec.Errors(spec.WithFile(flow.Validate(reg, nil, snk), "sink"))...)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("config %s: %w", nc.Node, errs)
	}
	nc.Source, nc.Sink = spec.FormatCall(src), spec.FormatSink(snk)
	return nc, nil
}

// ParseSpecFile checks spec text of `name : source | sink ;` definitions (multiconfig, load)
// and returns their configurations in the default flow. label names the text in errors.
func ParseSpecFile(text, label string, reg *plugin.Registry) ([]*flumev1.NodeConfig, error) {
	defs, err := spec.ParseNodes(text)
	errs := spec.ErrorList(spec.Errors(err))
	seen := map[string]bool{}
	var cfgs []*flumev1.NodeConfig
	for _, d := range defs {
		if seen[d.Name] {
			errs = append(errs, spec.Errorf(d.Pos, "logical node %q is defined twice", d.Name))
			continue
		}
		seen[d.Name] = true
		errs = append(errs, spec.Errors(flow.Validate(reg, d.Source, d.Sink))...)
		cfgs = append(cfgs, &flumev1.NodeConfig{Node: d.Name, Flow: state.DefaultFlow,
			Source: spec.FormatCall(d.Source), Sink: spec.FormatSink(d.Sink)})
	}
	if len(errs) > 0 {
		return nil, spec.WithFile(errs, label)
	}
	if len(cfgs) == 0 {
		return nil, fmt.Errorf("%s: no logical node defined; want 'name : source | sink ;'", label)
	}
	return cfgs, nil
}

// checkName refuses logical node names that could not be written in a spec file.
func checkName(name string) error {
	const rule = "it must start with a letter and hold only letters, digits, '.', '-' and '_'"
	switch {
	case name == "":
		return fmt.Errorf("%w: empty logical node name: %s", ErrUsage, rule)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("%w: %q is not a valid logical node name: it has leading or trailing space", ErrUsage, name)
	}
	nodes, err := spec.ParseNodes(name + " : null | null ;")
	if err != nil || len(nodes) != 1 || nodes[0].Name != name {
		return fmt.Errorf("%w: %q is not a valid logical node name: %s", ErrUsage, name, rule)
	}
	return nil
}

// NewRequestID returns a random id for ExecRequest.RequestId: a client keeps it across the
// retries of one request so that the masters apply the request once.
func NewRequestID() string {
	return rand.Text()
}

// roles gives the role each command needs when access control is on; every command not listed
// needs flumev1.TokenRole_TOKEN_ROLE_OPERATOR. Commands that forget state wholesale or change
// the ensemble need an admin.
var roles = map[string]flumev1.TokenRole{
	"unmapAll":     flumev1.TokenRole_TOKEN_ROLE_ADMIN,
	"purge":        flumev1.TokenRole_TOKEN_ROLE_ADMIN,
	"purgeAll":     flumev1.TokenRole_TOKEN_ROLE_ADMIN,
	"addmaster":    flumev1.TokenRole_TOKEN_ROLE_ADMIN,
	"removemaster": flumev1.TokenRole_TOKEN_ROLE_ADMIN,
}

// Role returns the role command name needs: operator for the commands that configure flows and
// map nodes, admin for purging and membership.
func Role(name string) flumev1.TokenRole {
	if r, ok := roles[name]; ok {
		return r
	}
	return flumev1.TokenRole_TOKEN_ROLE_OPERATOR
}
