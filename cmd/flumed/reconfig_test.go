package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/plugin/plugintest"
)

// FAULTS.md row 21, config reload under load: a file is tailed end to end while lines are
// written to it at a steady rate, and the flow's config changes ten times meanwhile. Every line
// arrives exactly once.

// reconfigLines is how many lines the reload scenarios write: FLUME_RECONFIG_LINES, or a fifth
// of FLUME_FAULT_LINES (200,000 by default: ten seconds at 20,000 lines/s).
func reconfigLines(t *testing.T) int {
	if v := os.Getenv("FLUME_RECONFIG_LINES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("FLUME_RECONFIG_LINES=%q: want a positive number", v)
		}
		return n
	}
	return max(faultLines(t)/5, 1000)
}

// reconfigRate is the rate the lines are written at, lines per second.
const reconfigRate = 20_000

// writeSteadily appends n numbered lines to path at rate lines per second, in slices of 50 ms,
// and returns when they are written; the test fails if it cannot write.
func writeSteadily(t *testing.T, path string, n, rate int) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	pad := strings.Repeat("x", 165)
	const slice = 50 * time.Millisecond
	per := max(rate*int(slice)/int(time.Second), 1)
	start := time.Now()
	for i, k := 0, 1; i < n; k++ {
		for j := 0; j < per && i < n; j++ {
			fmt.Fprintf(w, "line %08d %s\n", i, pad)
			i++
		}
		if err := w.Flush(); err != nil {
			t.Error(err)
			return
		}
		pace(start.Add(time.Duration(k) * slice)) // a slow slice is made up by the next ones
	}
}

// pace waits until the time at: it paces a load, and waits for no state.
func pace(at time.Time) {
	if d := time.Until(at); d > 0 {
		<-time.After(d)
	}
}

// versionOf returns the version status shows for an ACTIVE logical node, 0 if it is not.
func versionOf(status, logical string) int {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(logical) + `\s+\S+\s+\S+\s+ACTIVE\s+(\d+)`).FindStringSubmatch(status)
	if m == nil {
		return 0
	}
	v, _ := strconv.Atoi(m[1])
	return v
}

// reconfigure sets a logical node's config and waits until it runs the new version.
func (d *dataplane) reconfigure(node, source, sink string) {
	t := d.e.t
	t.Helper()
	before := 0
	if out, err := d.e.ctl(0, "status"); err == nil {
		before = versionOf(out, node)
	}
	d.e.mustCtl(0, "config", node, source, sink)
	plugintest.Eventually(t, 20*time.Second, throttle(ctlPoll, func() bool {
		out, err := d.e.ctl(0, "status")
		return err == nil && versionOf(out, node) > before
	}), func() string {
		out, _ := d.e.ctl(0, "status")
		return node + " does not run its new config:\n" + out + d.logs()
	})
}

// reloadWhileTailing runs an agent that tails a file growing at reconfigRate end to end to one
// collector, calls change(i) ten times spread over the writing (waiting for each new config to
// run is part of the pace), and checks that every line arrived once.
func reloadWhileTailing(t *testing.T, what string, change func(d *dataplane, source, chain string, i int)) {
	d := newDataplaneWith(t, 1, 1, 0)
	d.lines = reconfigLines(t)
	d.input = d.dir + "/grow.log"
	if err := os.WriteFile(d.input, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	source, chain := fmt.Sprintf("tail(%q)", d.input), d.chain("E2E")
	d.startAgentWith(source, chain)
	done := make(chan struct{})
	go func() {
		defer close(done)
		writeSteadily(t, d.input, d.lines, reconfigRate)
	}()
	start := time.Now()
	every := time.Duration(d.lines) * time.Second / reconfigRate / 11
	for i := range 10 {
		pace(start.Add(time.Duration(i+1) * every))
		change(d, source, chain, i)
	}
	<-done
	ta := d.waitQuiet(2 * time.Minute)
	d.check(ta, what, fmt.Sprintf("rate=%d/s", reconfigRate))
}

// TestAgentConfigChangesWhileTailing changes the decorators in front of an end-to-end agent
// sink ten times (a value decorator added, changed and removed) while a file it tails grows
// at 20,000 lines a second: no line is lost or repeated.
func TestAgentConfigChangesWhileTailing(t *testing.T) {
	t.Parallel()
	reloadWhileTailing(t, "ten agent config changes while tailing", func(d *dataplane, source, chain string, i int) {
		sinks := []string{
			`value("stage", "one") ` + chain,
			chain,
			`value("stage", "two") ` + chain,
			`value("stage", "two") value("more", "yes") ` + chain,
			chain,
		}
		d.reconfigure("agent1", source, sinks[i%len(sinks)])
	})
}

// TestCollectorConfigChangesWhileTailing changes a collector's config (its output prefix) ten
// times while an agent tails a growing file to it end to end: no line is lost or repeated.
func TestCollectorConfigChangesWhileTailing(t *testing.T) {
	t.Parallel()
	reloadWhileTailing(t, "ten collector config changes while tailing", func(d *dataplane, _, _ string, i int) {
		d.reconfigure("col1", fmt.Sprintf("collectorSource(%d)", d.ports[0]),
			fmt.Sprintf("collectorSink(%q, \"data%d-\", 500, raw)", d.outs[0], i))
	})
}
