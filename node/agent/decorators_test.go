package agent

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/internal/testwait"
	"github.com/flumego/flume/node/plugin"
)

// decoProps make the decorators' retries fast.
var decoProps = map[string]string{
	"flume.agent.failover.backoff.initial": "5",
	"flume.agent.failover.backoff.max":     "20",
}

// newDeco builds decorator text around next with bc, failing the test on an error.
func newDeco(tb testing.TB, bc *plugin.BuildContext, text string, next plugin.Sink) *logDeco {
	tb.Helper()
	s, err := buildDeco(bc, text, next)
	if err != nil {
		tb.Fatalf("build %s: %v", text, err)
	}
	d := s.(*logDeco)
	d.log.stall = 200 * time.Millisecond // a sink that stays down holds Close up this long
	return d
}

// TestAckedWriteAheadDeliversInOrderThroughFailures: the next sink fails its first Appends;
// every event reaches it once, in order, and every chunk leaves the log.
func TestAckedWriteAheadDeliversInOrderThroughFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  string
		failN int64
	}{
		{"a chunk per batch", "ackedWriteAhead(0)", 3},
		{"chunks by age", "ackedWriteAhead(5)", 5},
		{"no failure", "ackedWriteAhead", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bc := newBC(t, decoProps)
			next := &testSink{}
			next.failN.Store(tc.failN)
			d := newDeco(t, bc, tc.text, next)
			openSink(t, d)
			all := bodies("w", 0, 300)
			appendAll(t, d, all, 10)
			if err := closeSink(d, 5*time.Second); err != nil {
				t.Fatalf("close: %v", err)
			}
			next.checkOnce(t, all, true)
			if next.overlap.Load() {
				t.Error("the next sink was used from two goroutines at once")
			}
			if n := next.closes.Load(); n != 1 {
				t.Errorf("next sink closed %d times, want once", n)
			}
			if v := metric(bc, "ackedWriteAhead.events_in"); v != int64(len(all)) {
				t.Errorf("events_in = %d, want %d", v, len(all))
			}
			if v := metric(bc, "ackedWriteAhead.delivery_failures"); v != tc.failN {
				t.Errorf("delivery_failures = %d, want %d", v, tc.failN)
			}
			logged, delivered := metric(bc, "ackedWriteAhead.chunks_logged"), metric(bc, "ackedWriteAhead.chunks_delivered")
			if logged == 0 || logged != delivered {
				t.Errorf("%d chunks logged, %d delivered", logged, delivered)
			}
			if u := unreleased(t, filepath.Join(bc.DataDir, "wal")); len(u) != 0 {
				t.Errorf("after close the log holds %d chunks, want none", len(u))
			}
		})
	}
}

// TestAckedWriteAheadSealsAfterMaxMillis: events wait in memory at most maxMillis before they
// are written and go on, without a Close; with the default of ten seconds they wait.
func TestAckedWriteAheadSealsAfterMaxMillis(t *testing.T) {
	bc := newBC(t, decoProps)
	next := &testSink{}
	d := newDeco(t, bc, "ackedWriteAhead(30)", next)
	openSink(t, d)
	defer func() { _ = closeSink(d, time.Second) }()
	appendAll(t, d, bodies("m", 0, 5), 5)
	testwait.Until(t, 2*time.Second, "the events to reach the next sink", func() bool { return next.count() == 5 })

	bc2 := newBC(t, decoProps)
	next2 := &testSink{}
	d2 := newDeco(t, bc2, "ackedWriteAhead", next2)
	openSink(t, d2)
	appendAll(t, d2, bodies("n", 0, 5), 5)
	if v := metric(bc2, "ackedWriteAhead.chunks_logged"); v != 0 {
		t.Errorf("with maxMillis 10000 a chunk was sealed at once (%d)", v)
	}
	if err := closeSink(d2, time.Second); err != nil {
		t.Fatal(err)
	}
	next2.checkOnce(t, bodies("n", 0, 5), true) // Close seals and delivers them
}

// TestAckedWriteAheadRestart: a decorator closed while its next sink is down keeps the events
// in its log; the next decorator on the same directory delivers them first, in order.
func TestAckedWriteAheadRestart(t *testing.T) {
	bc := newBC(t, decoProps)
	down := &testSink{}
	down.down.Store(true)
	d1 := newDeco(t, bc, "ackedWriteAhead(0)", down)
	openSink(t, d1)
	first := bodies("r", 0, 100)
	appendAll(t, d1, first, 10)
	testwait.Until(t, 2*time.Second, "the flow's condition to name the failing sink", func() bool {
		return strings.Contains(d1.Condition(), "chunks wait for the next sink: test sink down")
	})
	if err := closeSink(d1, 2*time.Second); err != nil {
		t.Fatalf("close: %v", err)
	}
	if v := metric(bc, "ackedWriteAhead.chunks_left"); v != 10 {
		t.Errorf("chunks_left = %d, want 10", v)
	}

	bc2 := *bc // the same logical node, a new flow
	bc2.Metrics = newBC(t, nil).Metrics
	next := &testSink{}
	d2 := newDeco(t, &bc2, "ackedWriteAhead(0)", next)
	openSink(t, d2)
	second := bodies("s", 0, 20)
	appendAll(t, d2, second, 10)
	if err := closeSink(d2, 5*time.Second); err != nil {
		t.Fatalf("close: %v", err)
	}
	next.checkOnce(t, append(first, second...), true)
	if v := metric(&bc2, "ackedWriteAhead.chunks_recovered"); v != 10 {
		t.Errorf("chunks_recovered = %d, want 10", v)
	}
}

// TestDiskFailoverSpoolsWhatTheSinkRefuses: the next sink fails a few Appends; the batches go
// to the spool, which drains into the sink once it works; later batches go to it directly.
// Every event arrives once, and the sink is never used from two goroutines at once.
func TestDiskFailoverSpoolsWhatTheSinkRefuses(t *testing.T) {
	bc := newBC(t, decoProps)
	next := &testSink{}
	next.failN.Store(3)
	d := newDeco(t, bc, "diskFailover(5)", next)
	openSink(t, d)
	all := bodies("f", 0, 200)
	appendAll(t, d, all[:100], 10)
	testwait.Until(t, 3*time.Second, "the spool to drain", func() bool { return next.count() == 100 && !d.down.Load() })
	appendAll(t, d, all[100:], 10)
	if err := closeSink(d, 5*time.Second); err != nil {
		t.Fatalf("close: %v", err)
	}
	next.checkOnce(t, all, false)
	if next.overlap.Load() {
		t.Error("the next sink was used from two goroutines at once")
	}
	if v := metric(bc, "diskFailover.batches_failed"); v != 1 {
		t.Errorf("batches_failed = %d, want 1: once the sink failed, batches go to the spool", v)
	}
	spooled, direct := metric(bc, "diskFailover.events_spooled"), metric(bc, "diskFailover.events_direct")
	if spooled < 10 || direct < 100 || spooled+direct != int64(len(all)) {
		t.Errorf("%d events spooled and %d appended directly, want at least 10 and 100, %d in all", spooled, direct, len(all))
	}
	if v := metric(bc, "diskFailover.events_delivered"); v != spooled {
		t.Errorf("events_delivered = %d, want the %d spooled", v, spooled)
	}
	if u := unreleased(t, filepath.Join(bc.DataDir, "dfo")); len(u) != 0 {
		t.Errorf("after close the spool holds %d chunks, want none", len(u))
	}
}

// TestDiskFailoverCloseKeepsTheSpool: a decorator closed while its next sink is down keeps the
// spool; the next decorator on the same directory drains it.
func TestDiskFailoverCloseKeepsTheSpool(t *testing.T) {
	bc := newBC(t, decoProps)
	down := &testSink{}
	down.down.Store(true)
	d1 := newDeco(t, bc, "diskFailover(0)", down)
	openSink(t, d1)
	all := bodies("g", 0, 50)
	appendAll(t, d1, all, 10)
	start := time.Now()
	if err := closeSink(d1, 5*time.Second); err != nil {
		t.Fatalf("close: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("close with the sink down took %v; it waits only briefly", d)
	}
	if u := unreleased(t, filepath.Join(bc.DataDir, "dfo")); len(u) != 5 {
		t.Fatalf("after close the spool holds %d chunks, want 5", len(u))
	}

	next := &testSink{}
	d2 := newDeco(t, bc, "diskFailover(0)", next)
	openSink(t, d2)
	testwait.Until(t, 3*time.Second, "the spool of the last run to drain", func() bool { return next.count() == len(all) })
	if err := closeSink(d2, 5*time.Second); err != nil {
		t.Fatalf("close: %v", err)
	}
	next.checkOnce(t, all, true)
}

// TestDiskFailoverPermanentFailure: a failure the next sink marks permanent is returned, not
// spooled, since sending the batch again cannot help.
func TestDiskFailoverPermanentFailure(t *testing.T) {
	bc := newBC(t, decoProps)
	next := &testSink{permanent: true}
	next.failN.Store(1)
	d := newDeco(t, bc, "diskFailover", next)
	openSink(t, d)
	err := d.Append(context.Background(), batchOf(bodies("h", 0, 3)))
	if !errors.Is(err, errTestSink) || !plugin.IsPermanent(err) {
		t.Fatalf("append = %v, want the permanent failure of the next sink", err)
	}
	appendAll(t, d, bodies("h", 3, 3), 3)
	if err := closeSink(d, time.Second); err != nil {
		t.Fatal(err)
	}
	next.checkOnce(t, bodies("h", 3, 3), true)
	if v := metric(bc, "diskFailover.events_spooled"); v != 0 {
		t.Errorf("events_spooled = %d, want 0", v)
	}
}

// TestDecoratorsNeedALogDirectory: without a data directory or flume.agent.logdir, Open fails
// for good and says why; the build alone, as a master's check does, succeeds.
func TestDecoratorsNeedALogDirectory(t *testing.T) {
	for _, name := range []string{"ackedWriteAhead", "diskFailover"} {
		t.Run(name, func(t *testing.T) {
			bc := newBC(t, nil)
			bc.DataDir = ""
			d := newDeco(t, bc, name, &testSink{})
			err := d.Open(context.Background())
			if !errors.Is(err, errNoLogDir) || !plugin.IsPermanent(err) {
				t.Fatalf("open = %v, want a permanent errNoLogDir", err)
			}
			_ = d.Close(context.Background())

			bc.Props = map[string]string{"flume.agent.logdir": t.TempDir()}
			if got, want := decoLogDir(bc, "wal"), filepath.Join(bc.Props["flume.agent.logdir"], "agentA", "wal"); got != want {
				t.Errorf("log directory %q, want %q", got, want)
			}
		})
	}
}

// TestDecoratorArguments: maxMillis is checked at build, with its position.
func TestDecoratorArguments(t *testing.T) {
	for _, tc := range []struct {
		text, err string
	}{
		{`ackedWriteAhead("-5")`, "1:17: ackedWriteAhead: argument maxMillis:"},
		{"diskFailover(\"x\")", "1:14: diskFailover: argument maxMillis:"},
		{"diskFailover(10, 250)", "1:18: diskFailover: too many arguments"},
		{"ackedWriteAhead(100)", ""},
		{"diskFailover", ""},
	} {
		t.Run(tc.text, func(t *testing.T) {
			_, err := buildDeco(newBC(t, nil), tc.text, &testSink{})
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("build: %v", err)
			case tc.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.err)):
				t.Fatalf("build error %v, want one starting %q", err, tc.err)
			}
		})
	}
}

// TestAckedWriteAheadBackpressureAtTheCap: with the next sink down, the log fills up to
// flume.agent.logdir.maxbytes and Append waits there, within its ctx, instead of growing the
// log; the flow's condition says so. Once the sink is back the log drains, and every batch
// Append took arrives once, in order.
func TestAckedWriteAheadBackpressureAtTheCap(t *testing.T) {
	props := map[string]string{"flume.agent.logdir.maxbytes": "1048576"}
	for k, v := range decoProps {
		props[k] = v
	}
	bc := newBC(t, props)
	next := &testSink{}
	next.down.Store(true)
	d := newDeco(t, bc, "ackedWriteAhead(0)", next)
	openSink(t, d)
	big := strings.Repeat("z", 10<<10)
	var took []string
	appendBig := func(i int, timeout time.Duration) error {
		b := bodies(big, i*10, 10)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		err := d.Append(ctx, batchOf(b))
		if err == nil {
			took = append(took, b...)
		}
		if el := time.Since(start); el > timeout+time.Second {
			t.Fatalf("Append took %v past its ctx of %v", el, timeout)
		}
		return err
	}
	i := 0
	for ; metric(bc, "ackedWriteAhead.wal.wal_full_waits") == 0; i++ {
		if i == 40 {
			t.Fatalf("after %d batches of 100 KiB the log is not full", i)
		}
		_ = appendBig(i, 50*time.Millisecond)
	}
	// At the cap, Append waits within its ctx, and then refuses the batch, taking nothing
	// of it.
	for start := i; ; i++ {
		if i == start+30 {
			t.Fatal("at the cap, Append kept taking batches into memory")
		}
		if err := appendBig(i, 50*time.Millisecond); err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("at the cap Append = %v, want its ctx's error", err)
			}
			break
		}
	}
	if st := d.log.log.State(); st.Bytes > 1<<20+200<<10 {
		t.Errorf("the log grew to %d bytes past its cap of 1 MiB", st.Bytes)
	}

	// A batch that does not fit waits for room, and the condition says why.
	last := bodies(big+"after", 0, 10)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- d.Append(ctx, batchOf(last))
	}()
	testwait.Until(t, 2*time.Second, "the flow's condition to say the log is full", func() bool {
		return strings.Contains(d.Condition(), "paused: log full (cap 1.0 MiB reached)")
	})
	next.down.Store(false)
	if err := <-done; err != nil {
		t.Fatalf("append once the sink is back: %v", err)
	}
	if err := closeSink(d, 5*time.Second); err != nil {
		t.Fatalf("close: %v", err)
	}
	next.checkOnce(t, append(took, last...), true)
}
