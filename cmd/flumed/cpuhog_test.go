package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flumego/flume/node/plugin/plugintest"
)

// cpuHogDuration is how long the CPU hog runs: FLUME_CPUHOG_SECONDS, 60 by default.
func cpuHogDuration(t *testing.T) time.Duration {
	if v := os.Getenv("FLUME_CPUHOG_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("FLUME_CPUHOG_SECONDS=%q: want a positive number", v)
		}
		return time.Duration(n) * time.Second
	}
	return time.Minute
}

// termView is what one master says of the ensemble: its raft term and the leader it knows.
type termView struct {
	term   uint64
	leader string // "" when it knows none
}

// view asks master i for its term and leader; ok is false when it does not answer.
func (e *masters) view(i int) (v termView, ok bool) {
	out, err := e.ctl(i, "members", "-o", "json")
	if err != nil {
		return v, false
	}
	var m struct {
		Term    string `json:"term"`
		Members []struct {
			ID     string `json:"id"`
			Leader bool   `json:"leader"`
		} `json:"members"`
	}
	if json.Unmarshal([]byte(out), &m) != nil {
		return v, false
	}
	v.term, _ = strconv.ParseUint(m.Term, 10, 64)
	for _, mem := range m.Members {
		if mem.Leader {
			v.leader = mem.ID
		}
	}
	return v, true
}

// hogCPU runs one busy process per core until ctx ends, and waits for them to exit.
func hogCPU(ctx context.Context, t *testing.T) (wait func()) {
	t.Helper()
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		cmd := exec.CommandContext(ctx, "sh", "-c", "while :; do :; done")
		if err := cmd.Start(); err != nil {
			t.Fatalf("start a CPU hog: %v", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = cmd.Wait() // killed when ctx ends
		}()
	}
	return wg.Wait
}

// TestLeaderKeepsItsLeadWhileEveryCoreIsBusy runs 3 real masters while one busy process per
// core keeps every core of the machine busy for a minute: with the default raft timeouts the
// leader must not lose its lead (no election: the term of every master stays the same) and
// the ensemble keeps accepting commands. It runs in parallel with the other tests of the
// package, which it slows down but must not break.
func TestLeaderKeepsItsLeadWhileEveryCoreIsBusy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real master processes for a minute")
	}
	t.Parallel()
	bin := buildBinaries(t)
	e := newEnsemble(t, bin, 3)
	var start [3]termView
	plugintest.Eventually(t, 20*time.Second, func() bool {
		for i := range start {
			v, ok := e.view(i)
			if !ok || v.leader == "" || i > 0 && v != start[0] {
				return false
			}
			start[i] = v
		}
		return true
	}, func() string { return fmt.Sprintf("the masters do not agree on a leader: %v", start) })
	e.mustCtl(0, "noop")

	ctx, stop := context.WithCancel(context.Background())
	wait := hogCPU(ctx, t)
	defer func() { stop(); wait() }()
	hogStart := time.Now()
	end := hogStart.Add(cpuHogDuration(t))
	// Watch the masters while the hog runs: a change of term or leader on any of them is a
	// leader change. A master that does not answer in time under the load is noted, not
	// failed: the terms at the end tell whether an election happened meanwhile.
	changes, polls, unanswered := 0, 0, 0
	last := start
	var seen []string
	for time.Now().Before(end) {
		for i := range last {
			v, ok := e.view(i)
			if !ok {
				unanswered++
				continue
			}
			if v != last[i] {
				changes++
				seen = append(seen, fmt.Sprintf("%.1fs master %d: term %d leader %q", time.Since(hogStart).Seconds(), i, v.term, v.leader))
				last[i] = v
			}
		}
		polls++
		pace(time.Now().Add(500 * time.Millisecond))
	}
	if _, err := e.ctl(0, "noop"); err != nil {
		t.Errorf("the ensemble refused a command at the end of the CPU hog: %v", err)
	}
	stop()
	wait()
	var final [3]termView
	for i := range final {
		v, ok := e.view(i)
		if !ok {
			t.Fatalf("master %d does not answer after the CPU hog:\n%s", i, e.logs[i].String())
		}
		final[i] = v
	}
	t.Logf("%d cores busy for %v: %d rounds of polls, %d unanswered; term %d leader %s before, %v after; changes seen: %v",
		runtime.NumCPU(), time.Since(hogStart).Round(time.Second), polls, unanswered, start[0].term, start[0].leader, final, seen)
	if changes > 0 || final != start {
		var logs strings.Builder
		for i := range e.logs {
			fmt.Fprintf(&logs, "--- master %d:\n%s", i, e.logs[i].String())
		}
		t.Fatalf("the leader changed under the CPU hog (%d changes seen: %s; before %v, after %v)\n%s",
			changes, strings.Join(seen, "; "), start, final, logs.String())
	}
}
