package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/plugin/plugintest"
)

// TestPoisonEventDoesNotStallTheOthers: three agents ship end to end to one collector whose
// output path takes a directory from each event (%{d}). One agent's events name a directory the
// storage refuses (a file stands in its place). Its events go to the dead-letter file, counted
// and said in the collector's status, and the two other agents deliver every line once, as if
// nothing happened.
func TestPoisonEventDoesNotStallTheOthers(t *testing.T) {
	t.Parallel()
	const lines = 20_000
	d := newDataplaneWith(t, 1, 1, 0)
	out := d.outs[0]
	if err := os.MkdirAll(out, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "blocked"), []byte("a file, not a directory"), 0o640); err != nil {
		t.Fatal(err)
	}
	d.reconfigure("col1", fmt.Sprintf("collectorSource(%d)", d.ports[0]),
		fmt.Sprintf("collectorSink(%q, \"data-\", 500, raw)", out+"/%{d}/"))
	chain := d.chain("E2E")
	start := func(name, dir string, n int) {
		in := filepath.Join(d.dir, name+".log")
		writeNumbered(t, in, n)
		d.e.node(name)
		d.e.mustCtl(0, "config", name, fmt.Sprintf("text(%q)", in), fmt.Sprintf("value(\"d\", %q) %s", dir, chain))
	}
	start("poison", "blocked", 3)
	started := time.Now()
	start("good1", "one", lines)
	start("good2", "two", lines)
	for _, dir := range []string{"one", "two"} {
		var ta tally
		plugintest.Eventually(t, 2*time.Minute, func() bool {
			ta = count(t, lines, filepath.Join(out, dir))
			return ta.distinct() == lines && ta.tmp == 0
		}, func() string {
			return fmt.Sprintf("%s: %d of %d lines, %d unfinished files\n%s", dir, ta.distinct(), lines, ta.tmp, d.logs())
		})
		if ta.dups != 0 || ta.foreign != 0 {
			t.Fatalf("%s: %d duplicates, %d foreign lines", dir, ta.dups, ta.foreign)
		}
	}
	t.Logf("both good agents delivered %d lines each in %v beside the poison", lines, time.Since(started).Round(time.Millisecond))

	// The three poison events are set aside, whole, and counted; the status says so.
	var dead []string
	plugintest.Eventually(t, time.Minute, func() bool {
		dead = deadLetters(t, filepath.Join(out, "dead-letter"))
		return len(dead) == 3
	}, func() string { return fmt.Sprintf("dead letters: %q\n%s", dead, d.logs()) })
	for i, l := range dead {
		if !strings.Contains(l, fmt.Sprintf(`"body":"line %08d `, i)) || !strings.Contains(l, `["d","blocked"]`) {
			t.Errorf("dead letter %d does not hold the event whole: %s", i, l)
		}
	}
	plugintest.Eventually(t, 30*time.Second, func() bool {
		m, _ := d.e.ctl(0, "metrics", "col1")
		return regexpMatch(`events_dead_lettered\s+3\b`, m)
	}, func() string { m, _ := d.e.ctl(0, "metrics", "col1"); return "metrics:\n" + m })
	status := d.e.mustCtl(0, "status")
	if !regexpMatch(`col1\s+col1\s+\S+\s+ACTIVE.*dead letters: 3`, status) {
		t.Errorf("the collector's status does not say it set events aside:\n%s", status)
	}
}

// deadLetters returns the lines of the dead-letter files under dir, finished or not, in order.
func deadLetters(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l != "" {
				out = append(out, l)
			}
		}
	}
	return out
}
