package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/flumego/flume/master/command"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// doConnect points the shell at a master: host[:adminport[:reportport]], as classic wrote it
// (the report port is accepted and ignored).
func (sh *shell) doConnect(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: connect host[:port]")
	}
	addr := args[0]
	if parts := strings.Split(addr, ":"); len(parts) == 3 {
		addr = parts[0] + ":" + parts[1]
	}
	sh.r.master, sh.connect = addr, true
	var resp *flumev1.GetMembersResponse
	err := sh.r.call(ctx, func(ctx context.Context, c flumev1.AdminServiceClient) (err error) {
		resp, err = c.GetMembers(ctx, &flumev1.GetMembersRequest{})
		return err
	})
	if err != nil {
		sh.connect = false
		return fmt.Errorf("connect: %w", err)
	}
	if !sh.quiet {
		full, _ := sh.r.address()
		fmt.Fprintf(sh.out, "Connected to Flume master %s at %s (%d masters)\n", resp.GetAnsweredBy(), full, len(resp.GetMembers()))
	}
	return nil
}

// exec runs a master command. exec and submit both wait for the outcome (commands are applied
// when a majority has them, which is quick); submit also remembers the id for wait.
func (sh *shell) exec(ctx context.Context, how string, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: %s <command> [args...]", how)
	}
	var rec *flumev1.CommandRecord
	req := &flumev1.ExecRequest{Argv: args, Origin: "flumectl shell", RequestId: command.NewRequestID()}
	err := sh.r.call(ctx, func(ctx context.Context, c flumev1.AdminServiceClient) error {
		resp, err := c.Exec(ctx, req) // the same id on every retry: applied once
		rec = resp.GetRecord()
		return err
	})
	if err != nil {
		return err
	}
	sh.lastID = rec.GetId()
	if !sh.quiet {
		verb := "Execed"
		if how == "submit" {
			verb = "Submitted"
		}
		fmt.Fprintf(sh.out, "[id: %d] %s command: %s\n", rec.GetId(), verb, strings.Join(args, " "))
	}
	if rec.GetState() != flumev1.CommandState_COMMAND_STATE_SUCCEEDED {
		return fmt.Errorf("command %d failed: %s", rec.GetId(), rec.GetMessage())
	}
	if !sh.quiet {
		fmt.Fprintf(sh.out, "Command succeeded\n")
	}
	return nil
}

// wait reports the outcome of a command: the last submitted one, or the given id.
func (sh *shell) wait(ctx context.Context, args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return errors.New("usage: wait <maxms> [cmdid]")
	}
	ms, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || ms < 0 {
		return fmt.Errorf("wait: %q is not a number of milliseconds", args[0])
	}
	id := sh.lastID
	if len(args) == 2 {
		if id, err = strconv.ParseUint(args[1], 10, 64); err != nil {
			return fmt.Errorf("wait: %q is not a command id", args[1])
		}
	}
	if id == 0 {
		return errors.New("wait: no command submitted yet; give its id")
	}
	var rec *flumev1.CommandRecord
	err = sh.r.call(ctx, func(ctx context.Context, c flumev1.AdminServiceClient) error {
		resp, err := c.GetCommands(ctx, &flumev1.GetCommandsRequest{Id: id})
		if err == nil && len(resp.GetRecords()) == 1 {
			rec = resp.GetRecords()[0]
		}
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(sh.out, "command %d %s %s\n", id, stateName(rec.GetState()), rec.GetMessage())
	if rec.GetState() == flumev1.CommandState_COMMAND_STATE_FAILED {
		return fmt.Errorf("command %d failed", id)
	}
	return nil
}

func (sh *shell) statuses(ctx context.Context) ([]*flumev1.NodeStatus, error) {
	var resp *flumev1.GetNodeStatusesResponse
	err := sh.r.call(ctx, func(ctx context.Context, c flumev1.AdminServiceClient) (err error) {
		resp, err = c.GetNodeStatuses(ctx, &flumev1.GetNodeStatusesRequest{})
		return err
	})
	return resp.GetStatuses(), err
}

func logicalState(s flumev1.LogicalNodeState) string {
	return strings.TrimPrefix(s.String(), "LOGICAL_NODE_STATE_")
}

// lastSeen says when the master last heard of a logical node, rounded to round: "1.2s ago",
// "never", or, for a leader that has not heard from the node since it took the lead,
// "unknown since leader change".
func lastSeen(s *flumev1.NodeStatus, round time.Duration) string {
	switch {
	case s.GetState() == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_UNKNOWN:
		return "unknown since leader change"
	case s.GetLastSeen() > 0:
		return time.Since(time.Unix(0, s.GetLastSeen())).Round(round).String() + " ago"
	}
	return "never"
}

// nodeStatus prints every logical node's status, as classic getnodestatus did.
func (sh *shell) nodeStatus(ctx context.Context) error {
	st, err := sh.statuses(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(sh.out, "Master knows about %d nodes\n", len(st))
	for _, s := range st {
		fmt.Fprintf(sh.out, "\t%s --> %s version %d on %s (%s), last seen %s\n", s.GetLogical(),
			logicalState(s.GetState()), s.GetVersion(), s.GetPhysical(), s.GetHost(), lastSeen(s, time.Millisecond))
	}
	return nil
}

// configs prints every logical node's configuration, submitted and translated.
func (sh *shell) configs(ctx context.Context) error {
	var resp *flumev1.GetConfigsResponse
	err := sh.r.call(ctx, func(ctx context.Context, c flumev1.AdminServiceClient) (err error) {
		resp, err = c.GetConfigs(ctx, &flumev1.GetConfigsRequest{})
		return err
	})
	if err != nil {
		return err
	}
	translated := map[string]*flumev1.TranslatedConfig{}
	for _, t := range resp.GetTranslated() {
		translated[t.GetNode()] = t
	}
	fmt.Fprintf(sh.out, "Master has %d configurations\n", len(resp.GetSubmitted()))
	for _, c := range resp.GetSubmitted() {
		cfg, t := c.GetConfig(), translated[c.GetConfig().GetNode()]
		fmt.Fprintf(sh.out, "\t%s (flow %s, version %d): %s | %s\n", cfg.GetNode(), cfg.GetFlow(), c.GetVersion(), cfg.GetSource(), cfg.GetSink())
		if t != nil && (t.GetSource() != cfg.GetSource() || t.GetSink() != cfg.GetSink()) {
			fmt.Fprintf(sh.out, "\t  translated (version %d): %s | %s\n", t.GetVersion(), t.GetSource(), t.GetSink())
		}
	}
	return nil
}

// mappings prints the logical nodes of each physical node.
func (sh *shell) mappings(ctx context.Context, args []string) error {
	if len(args) > 1 {
		return errors.New("usage: getmappings [physical]")
	}
	req := &flumev1.GetMappingsRequest{}
	if len(args) == 1 {
		req.Physical = args[0]
	}
	var resp *flumev1.GetMappingsResponse
	err := sh.r.call(ctx, func(ctx context.Context, c flumev1.AdminServiceClient) (err error) {
		resp, err = c.GetMappings(ctx, req)
		return err
	})
	if err != nil {
		return err
	}
	byPhys := map[string][]string{}
	var order []string
	for _, m := range resp.GetMappings() {
		if _, ok := byPhys[m.GetPhysical()]; !ok {
			order = append(order, m.GetPhysical())
		}
		byPhys[m.GetPhysical()] = append(byPhys[m.GetPhysical()], m.GetLogical())
	}
	for _, p := range order {
		fmt.Fprintf(sh.out, "%s --> [%s]\n", p, strings.Join(byPhys[p], ", "))
	}
	return nil
}

// waitNodes polls the node statuses until every listed node is in one of the states, or the
// time is up (0 waits for ever).
func (sh *shell) waitNodes(ctx context.Context, args []string, states ...flumev1.LogicalNodeState) error {
	if len(args) < 2 {
		return errors.New("usage: waitForNodes... <maxms> node [node...]")
	}
	ms, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || ms < 0 {
		return fmt.Errorf("%q is not a number of milliseconds", args[0])
	}
	if ms > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
		defer cancel()
	}
	want := map[flumev1.LogicalNodeState]bool{}
	var names []string
	for _, s := range states {
		want[s] = true
		names = append(names, logicalState(s))
	}
	for {
		st, err := sh.statuses(ctx)
		if err != nil && ctx.Err() == nil {
			return err
		}
		missing := map[string]string{}
		for _, n := range args[1:] {
			missing[n] = "unknown"
		}
		for _, s := range st {
			if _, asked := missing[s.GetLogical()]; asked {
				if want[s.GetState()] {
					delete(missing, s.GetLogical())
				} else {
					missing[s.GetLogical()] = logicalState(s.GetState())
				}
			}
		}
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			var parts []string
			for n, s := range missing {
				parts = append(parts, n+" is "+s)
			}
			return fmt.Errorf("timed out waiting for %s: %s", strings.Join(names, " or "), strings.Join(parts, ", "))
		case <-time.After(250 * time.Millisecond):
		}
	}
}
