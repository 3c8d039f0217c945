// Package node is a physical Flume node: it runs logical nodes, each a flow built from a spec
// definition and pumped by its own driver.
package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/flumego/flume/commitpoint"
	"github.com/flumego/flume/conf"
	"github.com/flumego/flume/internal/tlsconf"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/flow"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/position"
	"github.com/flumego/flume/node/spec"
)

// Config configures a physical node.
type Config struct {
	// Name is the physical node's name; the host name by default.
	Name string
	// DataDir holds the node's state (positions, logs).
	DataDir string
	// Props are the configuration properties (flume-site.xml names).
	Props map[string]string
	// Logger receives the node's logs; discarded when nil.
	Logger *slog.Logger
	// Stdin and Stdout are what stdin sources and console sinks use (the process's by default).
	Stdin  io.Reader
	Stdout io.Writer
	// Commits is the commit point of end-to-end delivery: the masters (MasterCommits), or the
	// node's own log (node/localcommit) when it runs without masters.
	Commits commitpoint.Log
	// ExecPolicy is which commands of the exec sources the masters push (Apply) the node runs:
	// flume.node.exec.allow, parsed by ParseExecPolicy. Nil runs none of them. Flows given to
	// Start are the node owner's own and run whatever command they name.
	ExecPolicy *ExecPolicy
	// TLS is the node's certificate material (flume.tls.*), for its collector and syslog
	// sources and its agent sinks; nil when TLS is off. ClientAuth is flume.tls.client.auth.
	TLS        *tlsconf.Provider
	ClientAuth tlsconf.ClientAuth
}

// Node runs logical nodes. Its methods are safe for concurrent use.
type Node struct {
	cfg     Config
	reg     *plugin.Registry
	log     *slog.Logger
	metrics *metrics.Registry
	chokes  *plugin.ChokeTable

	applyMu sync.Mutex // serializes Apply
	mu      sync.Mutex
	drivers map[string]*flow.Driver
	// idle holds the assigned logical nodes that run no flow: nothing to run, or a spec that
	// does not build (ERROR, with the error).
	idle     map[string]flow.Status
	versions map[string]uint64 // the version of each assigned logical node
	wg       sync.WaitGroup    // the report goroutines
}

// New returns a node that builds components from reg.
func New(cfg Config, reg *plugin.Registry) *Node {
	if cfg.Name == "" {
		cfg.Name = event.Hostname()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Node{
		cfg: cfg, reg: reg, log: cfg.Logger.With("physical", cfg.Name),
		metrics: metrics.NewRegistry(), chokes: plugin.NewChokeTable(),
		drivers: make(map[string]*flow.Driver), idle: make(map[string]flow.Status),
		versions: make(map[string]uint64),
	}
}

// Metrics returns the node's metrics registry.
func (n *Node) Metrics() *metrics.Registry { return n.metrics }

// Chokes returns the node's choke limits.
func (n *Node) Chokes() *plugin.ChokeTable { return n.chokes }

// buildContext returns the context builders of logical node name receive.
func (n *Node) buildContext(name string) *plugin.BuildContext {
	dataDir := ""
	if n.cfg.DataDir != "" {
		dataDir = filepath.Join(n.cfg.DataDir, "logical", name)
	}
	log := n.log.With("logical", name)
	return &plugin.BuildContext{
		Positions:    n.positions(name, dataDir, log),
		Logger:       log,
		LogicalNode:  name,
		PhysicalNode: n.cfg.Name,
		DataDir:      dataDir,
		Metrics:      n.metrics.Sub(name),
		Props:        n.cfg.Props,
		Registry:     n.reg,
		Stdin:        n.cfg.Stdin,
		Stdout:       n.cfg.Stdout,
		Chokes:       n.chokes,
		Commits:      n.cfg.Commits,
		TLS:          n.cfg.TLS,
		ClientAuth:   n.cfg.ClientAuth,
	}
}

// positions returns the position store of logical node name: a file of its data directory, or
// of its agent log directory (flume.agent.logdir) on a node without one; nil when it has
// neither. Positions that older releases kept elsewhere (beside an agent sink's log, or in
// source.position) are read while the store has no file yet.
func (n *Node) positions(name, dataDir string, log *slog.Logger) *position.Store {
	logDir := n.cfg.Props[conf.AgentLogDir]
	if logDir != "" {
		logDir = filepath.Join(logDir, name)
	}
	switch {
	case dataDir != "":
		legacy := []string{filepath.Join(dataDir, "agent", position.FileName), filepath.Join(dataDir, "source.position")}
		if logDir != "" {
			legacy = append([]string{filepath.Join(logDir, position.FileName)}, legacy...)
		}
		return position.New(dataDir, log, legacy...)
	case logDir != "":
		return position.New(logDir, log)
	}
	return nil
}

// Start builds every definition and starts its driver. It builds all of them before starting
// any, so a spec with an error starts nothing; the error lists every problem with its place.
// A definition whose logical node is already running is an error.
func (n *Node) Start(defs []*spec.NodeDef) error {
	var errs spec.ErrorList
	flows := make([]*flow.Flow, 0, len(defs))
	seen := map[string]bool{}
	for _, def := range defs {
		if seen[def.Name] {
			errs = append(errs, spec.Errorf(def.Pos, "logical node %q is defined twice", def.Name))
			continue
		}
		seen[def.Name] = true
		f, err := flow.Build(n.buildContext(def.Name), def)
		if err != nil {
			errs = append(errs, spec.Errors(err)...)
			continue
		}
		flows = append(flows, f)
	}
	if err := errs.Err(); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, f := range flows {
		if _, ok := n.drivers[f.Name]; ok {
			return fmt.Errorf("logical node %q is already running", f.Name)
		}
	}
	for _, f := range flows {
		n.startLocked(f)
	}
	return nil
}

// startLocked starts the driver of a built flow; n.mu is held.
func (n *Node) startLocked(f *flow.Flow) {
	d := flow.NewDriver(f, flow.DriverOptions{Logger: n.log, CloseTimeout: n.closeTimeout()})
	n.drivers[f.Name] = d
	n.log.Info("starting logical node", "logical", f.Name, "spec", f.Spec)
	d.Start()
	n.wg.Add(1)
	go n.report(f.Name, d)
}

func (n *Node) closeTimeout() time.Duration {
	return time.Duration(n.propInt("flume.node.close.timeout", 30000)) * time.Millisecond
}

// report logs how a logical node ended: the one place a flow's failure is reported.
func (n *Node) report(name string, d *flow.Driver) {
	defer n.wg.Done()
	<-d.Done()
	if s := d.Status(); s.State == flow.StateError {
		n.log.Error("logical node failed", "logical", name, "err", s.Err)
	} else {
		n.log.Info("logical node ended", "logical", name, "state", s.State, "events", s.Events)
	}
}

func (n *Node) propInt(name string, def int64) int64 {
	bc := plugin.BuildContext{Props: n.cfg.Props}
	return bc.PropInt(name, def)
}

// Statuses returns the status of every logical node, by name.
func (n *Node) Statuses() map[string]flow.Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[string]flow.Status, len(n.drivers)+len(n.idle))
	for name, st := range n.idle {
		out[name] = st
	}
	for name, d := range n.drivers {
		out[name] = d.Status()
	}
	return out
}

// Wait blocks until every running logical node has finished (its source ended or it failed),
// or ctx is done. It returns the errors of the logical nodes that ended in ERROR.
func (n *Node) Wait(ctx context.Context) error {
	for _, d := range n.snapshot() {
		select {
		case <-d.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	n.wg.Wait() // every ending is reported before Wait returns
	return n.errors()
}

// Stop stops every logical node gracefully and waits for them; ctx bounds the graceful part.
func (n *Node) Stop(ctx context.Context) error {
	stopDrivers(ctx, n.snapshot())
	n.wg.Wait()
	return n.errors()
}

func (n *Node) snapshot() []*flow.Driver {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]*flow.Driver, 0, len(n.drivers))
	for _, d := range n.drivers {
		out = append(out, d)
	}
	return out
}

// errors returns the errors of logical nodes in ERROR, sorted by name.
func (n *Node) errors() error {
	st := n.Statuses()
	names := make([]string, 0, len(st))
	for name := range st {
		names = append(names, name)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		if s := st[name]; s.State == flow.StateError {
			errs = append(errs, fmt.Errorf("logical node %s: %w", name, s.Err))
		}
	}
	return errors.Join(errs...)
}

// Assigned is one logical node as the masters assign it to this node.
type Assigned struct {
	Name    string
	Version uint64
	// Def is the flow it runs; nil when it has nothing to run (it idles).
	Def *spec.NodeDef
	// Err, when set, is why its spec cannot run: the logical node is in ERROR.
	Err error
}

// Apply makes the node run exactly the assigned logical nodes. A logical node whose version
// is newer than the one it runs is restarted: its flow is stopped gracefully (within
// flume.node.close.timeout) and the new one started; an older or equal version changes
// nothing. Logical nodes no longer assigned are stopped and forgotten. A spec that does not
// build, or whose source runs a command the node's ExecPolicy refuses, puts its logical node
// in ERROR with the error; the others are not affected. Calls are serialized.
func (n *Node) Apply(assigned []Assigned) {
	n.applyMu.Lock()
	defer n.applyMu.Unlock()
	want := make(map[string]bool, len(assigned))
	var start []Assigned
	var stop []*flow.Driver
	n.mu.Lock()
	forget := func(name string) {
		if d, ok := n.drivers[name]; ok {
			stop = append(stop, d)
		}
		delete(n.drivers, name)
		delete(n.idle, name)
		delete(n.versions, name)
	}
	for _, a := range assigned {
		if want[a.Name] {
			continue
		}
		want[a.Name] = true
		if v, ok := n.versions[a.Name]; ok && a.Version <= v {
			continue
		}
		forget(a.Name)
		start = append(start, a)
	}
	for _, name := range n.namesLocked() {
		if !want[name] {
			n.log.Info("logical node no longer assigned", "logical", name)
			forget(name)
		}
	}
	n.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), n.closeTimeout())
	defer cancel()
	stopDrivers(ctx, stop)
	for _, a := range start {
		n.startAssigned(a)
	}
}

// startAssigned builds and starts one assigned logical node. A source that runs a command
// the node's ExecPolicy refuses is not even built: the logical node is in ERROR with why.
// Apply calls it once per version of a logical node, so a refusal is logged once per version.
func (n *Node) startAssigned(a Assigned) {
	err := a.Err
	var f *flow.Flow
	if err == nil && a.Def != nil {
		switch {
		case a.Def.Name != a.Name:
			err = fmt.Errorf("spec defines logical node %q, not %q", a.Def.Name, a.Name)
		default:
			if err = n.checkExec(a.Def); err == nil {
				f, err = flow.Build(n.buildContext(a.Name), a.Def)
			}
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.versions[a.Name] = a.Version
	switch {
	case errors.Is(err, ErrExecRefused):
		n.log.Warn("refusing a command pushed by the masters", "logical", a.Name, "version", a.Version, "err", err)
		n.idle[a.Name] = flow.Status{State: flow.StateError, Err: err, Since: time.Now()}
	case err != nil:
		n.log.Error("logical node cannot run its configuration", "logical", a.Name, "version", a.Version, "err", err)
		n.idle[a.Name] = flow.Status{State: flow.StateError, Err: err, Since: time.Now()}
	case f == nil:
		n.idle[a.Name] = flow.Status{State: flow.StateIdle, Since: time.Now()}
	default:
		n.startLocked(f)
	}
}

// namesLocked returns the names of every logical node; n.mu is held.
func (n *Node) namesLocked() []string {
	names := make([]string, 0, len(n.drivers)+len(n.idle))
	for name := range n.drivers {
		names = append(names, name)
	}
	for name := range n.idle {
		if _, ok := n.drivers[name]; !ok {
			names = append(names, name)
		}
	}
	return names
}

// Versions returns the configuration version of every assigned logical node, by name.
func (n *Node) Versions() map[string]uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[string]uint64, len(n.versions))
	for name, v := range n.versions {
		out[name] = v
	}
	return out
}

// stopDrivers stops drivers gracefully, all at once, and waits for them; ctx bounds the
// graceful part of each.
func stopDrivers(ctx context.Context, drivers []*flow.Driver) {
	var wg sync.WaitGroup
	for _, d := range drivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = d.Stop(ctx)
		}()
	}
	wg.Wait()
}
