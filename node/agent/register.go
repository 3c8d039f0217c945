package agent

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// DefaultCollectorPort is the port of a collector named without one (flume.collector.event.port).
const DefaultCollectorPort = 35853

// BatchParams are the keyword arguments every agent sink takes; the master's automatic chains
// take them too and pass them on.
func BatchParams() []spec.Param {
	return []spec.Param{
		{Name: "batchCount", Kind: spec.ParamInt, KeywordOnly: true, Default: "1000"},
		{Name: "batchMillis", Kind: spec.ParamDuration, KeywordOnly: true, Default: "10"},
		{Name: "compression", Kind: spec.ParamString, KeywordOnly: true, Default: "none"},
	}
}

// Register adds the agent sinks, and the ackedWriteAhead and diskFailover decorators, to r.
func Register(r *plugin.Registry) {
	single := append([]spec.Param{
		{Name: "host", Kind: spec.ParamString},
		{Name: "port", Kind: spec.ParamInt},
	}, BatchParams()...)
	chain := append([]spec.Param{{Name: "collector", Kind: spec.ParamString, Required: true, Variadic: true}}, BatchParams()...)
	for _, c := range []struct {
		names []string
		mode  Mode
		doc   string
	}{
		{[]string{"agentSink", "agentE2ESink"}, EndToEnd, "sends to a collector end to end: write-ahead log, resent until committed"},
		{[]string{"agentDFOSink", "agentFailoverSink"}, DiskFailover, "sends to a collector; spools to disk while it is unavailable"},
		{[]string{"agentBESink", "agentBestEffortSink"}, BestEffort, "sends to a collector; drops what it cannot send (counted)"},
	} {
		for _, name := range c.names {
			mode := c.mode
			r.RegisterSink(spec.Signature{Name: name, Params: single}, c.doc,
				func(bc *plugin.BuildContext, a *spec.Args) (plugin.Sink, error) { return buildSingle(bc, a, mode) })
		}
	}
	for name, c := range map[string]struct {
		mode Mode
		doc  string
	}{
		"agentE2EChain": {EndToEnd, "sends end to end to the first collector of a chain that works"},
		"agentDFOChain": {DiskFailover, "sends to the first collector of a chain that works; spools to disk while none does"},
		"agentBEChain":  {BestEffort, "sends to the first collector of a chain that works; drops while none does"},
	} {
		mode := c.mode
		r.RegisterSink(spec.Signature{Name: name, Params: chain}, c.doc,
			func(bc *plugin.BuildContext, a *spec.Args) (plugin.Sink, error) { return buildChain(bc, a, mode) })
	}
	rpc := []spec.Param{{Name: "host", Kind: spec.ParamString}, {Name: "port", Kind: spec.ParamInt}}
	for _, name := range []string{"rpcSink", "thriftSink", "avroSink"} {
		r.RegisterSink(spec.Signature{Name: name, Params: rpc},
			"sends to a collector source, best effort", func(bc *plugin.BuildContext, a *spec.Args) (plugin.Sink, error) {
				return buildSingle(bc, a, BestEffort)
			})
	}
	registerDecorators(r)
}

func buildSingle(bc *plugin.BuildContext, a *spec.Args, mode Mode) (plugin.Sink, error) {
	host := a.String("host", bc.Prop("flume.collector.event.host", "localhost"))
	port := a.Int("port", bc.PropInt("flume.collector.event.port", DefaultCollectorPort))
	if host == "" {
		return nil, a.Errorf("host", "empty collector host")
	}
	if port <= 0 || port > 65535 {
		return nil, a.Errorf("port", "port %d is not a TCP port (1-65535)", port)
	}
	return build(bc, a, mode, []string{net.JoinHostPort(host, strconv.FormatInt(port, 10))})
}

func buildChain(bc *plugin.BuildContext, a *spec.Args, mode Mode) (plugin.Sink, error) {
	var targets []string
	defPort := bc.PropInt("flume.collector.event.port", DefaultCollectorPort)
	for _, c := range a.Strings("collector") {
		addr, err := collectorAddr(c, defPort)
		if err != nil {
			return nil, a.Errorf("collector", "%v", err)
		}
		targets = append(targets, addr)
	}
	return build(bc, a, mode, targets)
}

// collectorAddr turns "host" or "host:port" into host:port.
func collectorAddr(s string, defPort int64) (string, error) {
	s = strings.TrimSpace(s)
	host, port := s, strconv.FormatInt(defPort, 10)
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 || n > 65535 {
		return "", fmt.Errorf("collector %q: port %q is not a TCP port", s, port)
	}
	if host == "" {
		return "", fmt.Errorf("collector %q names no host", s)
	}
	return net.JoinHostPort(host, port), nil
}

func build(bc *plugin.BuildContext, a *spec.Args, mode Mode, targets []string) (plugin.Sink, error) {
	opts := Options{Mode: mode, Targets: targets,
		BatchCount:     int(a.Int("batchCount", DefaultBatchCount)),
		BatchWait:      a.Duration("batchMillis", DefaultBatchWait),
		Retransmit:     bc.PropMillis("flume.agent.logdir.retransmit", 60*time.Second),
		BackoffInitial: bc.PropMillis("flume.agent.failover.backoff.initial", time.Second),
		BackoffMax:     bc.PropMillis("flume.agent.failover.backoff.max", 60*time.Second),
		LogMaxBytes:    bc.PropInt("flume.agent.logdir.maxbytes", 0),
		LogMinFree:     bc.PropInt("flume.agent.logdir.minfreebytes", 0),
	}
	if mode == EndToEnd {
		// Chunks in flight wait in memory for a commit round trip: fewer of them keep an
		// end-to-end agent small at little cost in throughput.
		opts.Window = 12
	}
	if opts.BatchCount < 1 {
		return nil, a.Errorf("batchCount", "batchCount %d: want at least 1", opts.BatchCount)
	}
	if opts.BatchWait < 0 {
		return nil, a.Errorf("batchMillis", "batchMillis must not be negative")
	}
	switch c := strings.ToLower(a.String("compression", "")); c {
	case "", "none", "false":
	case "zstd":
		opts.Compression = flumev1.Compression_COMPRESSION_ZSTD
	case "gzip", "true":
		opts.Compression = flumev1.Compression_COMPRESSION_GZIP
	default:
		return nil, a.Errorf("compression", "compression %q: want none, gzip or zstd", c)
	}
	// The log of a logical node outlives its flows: the next flow of the node sends what the
	// last one left.
	if logdir := bc.Prop("flume.agent.logdir", ""); logdir != "" {
		opts.LogDir = filepath.Join(logdir, bc.LogicalNode)
	} else if bc.DataDir != "" {
		opts.LogDir = filepath.Join(bc.DataDir, "agent")
	}
	return New(bc, opts), nil
}
