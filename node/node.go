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

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/flow"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
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
}

// Node runs logical nodes. Its methods are safe for concurrent use.
type Node struct {
	cfg     Config
	reg     *plugin.Registry
	log     *slog.Logger
	metrics *metrics.Registry
	chokes  *plugin.ChokeTable

	mu      sync.Mutex
	drivers map[string]*flow.Driver
	wg      sync.WaitGroup // the report goroutines
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
		drivers: make(map[string]*flow.Driver),
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
	return &plugin.BuildContext{
		Logger:       n.log.With("logical", name),
		LogicalNode:  name,
		PhysicalNode: n.cfg.Name,
		DataDir:      dataDir,
		Metrics:      n.metrics.Sub(name),
		Props:        n.cfg.Props,
		Registry:     n.reg,
		Stdin:        n.cfg.Stdin,
		Stdout:       n.cfg.Stdout,
		Chokes:       n.chokes,
	}
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
	closeTimeout := time.Duration(n.propInt("flume.node.close.timeout", 30000)) * time.Millisecond
	for _, f := range flows {
		d := flow.NewDriver(f, flow.DriverOptions{Logger: n.log, CloseTimeout: closeTimeout})
		n.drivers[f.Name] = d
		n.log.Info("starting logical node", "logical", f.Name, "spec", f.Spec)
		d.Start()
		n.wg.Add(1)
		go n.report(f.Name, d)
	}
	return nil
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
	out := make(map[string]flow.Status, len(n.drivers))
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
	drivers := n.snapshot()
	var wg sync.WaitGroup
	for _, d := range drivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = d.Stop(ctx)
		}()
	}
	wg.Wait()
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
