package flow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/spec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func runToEnd(t *testing.T, f *Flow) Status {
	t.Helper()
	d := NewDriver(f, DriverOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = d.Run(ctx)
	return d.Status()
}

func seqBodies(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}

func TestDriverDeliversEveryEventInOrderThenGoesIdle(t *testing.T) {
	st := newStore()
	s := runToEnd(t, build(t, st, `n : seq(100) | capture("out") ;`))
	if s.State != StateIdle || s.Err != nil {
		t.Fatalf("state = %v, err = %v; want IDLE", s.State, s.Err)
	}
	if got := plugintest.Bodies(st.got("out")); !slices.Equal(got, seqBodies(100)) {
		t.Fatalf("delivered %v", got)
	}
	if s.Events != 100 || s.Batches != 15 {
		t.Fatalf("events = %d, batches = %d; want 100, 15", s.Events, s.Batches)
	}
	if st.count(st.closes, "out") != 1 {
		t.Fatalf("sink closed %d times, want 1", st.count(st.closes, "out"))
	}
}

func TestDecoratorsApplyInOrderInBothSyntaxes(t *testing.T) {
	for _, text := range []string{
		`n : seq(3) | tag("a", "1") tag("b", "2") capture("out") ;`,
		`n : seq(3) | { tag("a", "1") => { tag("b", "2") => capture("out") } } ;`,
	} {
		st := newStore()
		if s := runToEnd(t, build(t, st, text)); s.State != StateIdle {
			t.Fatalf("%s: state %v err %v", text, s.State, s.Err)
		}
		got := st.got("out")
		if len(got) != 3 {
			t.Fatalf("%s: got %d events", text, len(got))
		}
		for _, e := range got {
			var keys []string
			for k := range e.Attrs() {
				keys = append(keys, k)
			}
			if !slices.Equal(keys, []string{"a", "b"}) {
				t.Fatalf("%s: attributes %v, want [a b] in that order", text, keys)
			}
		}
	}
}

func TestFanOutDeliversToEveryBranchEvenWhenOneFails(t *testing.T) {
	st := newStore()
	f := build(t, st, `n : seq(10) | [capture("a"), capture("bad", failAppends=1), tag("x", "y") capture("c")] ;`)
	s := runToEnd(t, f)
	if s.State != StateError || !strings.Contains(s.Err.Error(), "fan-out branch 1") {
		t.Fatalf("state = %v, err = %v; want ERROR naming branch 1", s.State, s.Err)
	}
	// The first batch (7 events) reached both healthy branches despite branch 1 failing.
	if len(st.got("a")) != 7 || len(st.got("c")) != 7 {
		t.Fatalf("a got %d, c got %d; want 7 each", len(st.got("a")), len(st.got("c")))
	}
	if _, ok := st.got("a")[0].Attr("x"); ok {
		t.Fatal("attribute set in branch 2 leaked into branch 0: events must be read-only")
	}
}

func TestFailoverUsesBackupWhilePrimaryIsDown(t *testing.T) {
	st := newStore()
	f := build(t, st, `n : seq(50) | < capture("p", failOpens="-1") ? capture("b") ? capture("c") > ;`)
	if s := runToEnd(t, f); s.State != StateIdle {
		t.Fatalf("state %v err %v", s.State, s.Err)
	}
	if got := plugintest.Bodies(st.got("b")); !slices.Equal(got, seqBodies(50)) {
		t.Fatalf("backup got %v", got)
	}
	if len(st.got("p")) != 0 || len(st.got("c")) != 0 {
		t.Fatalf("primary got %d, third got %d; want 0", len(st.got("p")), len(st.got("c")))
	}
}

func TestFailoverReturnsToPrimaryAfterBackoff(t *testing.T) {
	st := newStore()
	f := build(t, st, `n : feed | < capture("p", failAppends=1) ? capture("b") > ;`)
	d := NewDriver(f, DriverOptions{})
	d.Start()
	defer func() { _ = d.Stop(context.Background()) }()
	send := func(body string) {
		st.feed <- []*event.Event{{Body: []byte(body)}}
	}
	send("0") // fails on the primary, goes to the backup
	plugintest.Eventually(t, 5*time.Second, func() bool { return len(st.got("b")) == 1 },
		func() string { return fmt.Sprintf("backup has %d events", len(st.got("b"))) })
	i := 1
	plugintest.Eventually(t, 5*time.Second, func() bool {
		send(strconv.Itoa(i))
		i++
		return len(st.got("p")) > 0
	}, func() string { return "primary never used again after its backoff" })
	// Every event goes to exactly one branch: none lost, none doubled.
	plugintest.Eventually(t, 5*time.Second, func() bool { return len(st.got("p"))+len(st.got("b")) == i },
		func() string {
			return fmt.Sprintf("delivered %d events in all, sent %d", len(st.got("p"))+len(st.got("b")), i)
		})
}

func TestFailoverAllBranchesDownIsAnError(t *testing.T) {
	st := newStore()
	s := runToEnd(t, build(t, st, `n : seq(5) | < capture("p", failAppends="-1") ? capture("b", failAppends="-1") > ;`))
	if s.State != StateError || !strings.Contains(s.Err.Error(), "every failover branch failed") {
		t.Fatalf("state = %v, err = %v", s.State, s.Err)
	}
}

func TestPanicInPluginBecomesErrorWithStack(t *testing.T) {
	st := newStore()
	s := runToEnd(t, build(t, st, `n : seq(5) | capture("x", panics=true) ;`))
	var pe *PanicError
	if s.State != StateError || !errors.As(s.Err, &pe) {
		t.Fatalf("state = %v, err = %v; want ERROR with a PanicError", s.State, s.Err)
	}
	if !strings.Contains(s.Err.Error(), "exploded") || !strings.Contains(s.Err.Error(), "captureSink") {
		t.Fatalf("error lacks the panic value or the stack: %v", s.Err)
	}
}

func TestStopIsGracefulAndClosesTheSink(t *testing.T) {
	st := newStore()
	d := NewDriver(build(t, st, `n : feed | capture("out") ;`), DriverOptions{})
	d.Start()
	plugintest.Eventually(t, 5*time.Second, func() bool { return d.Status().State == StateActive },
		func() string { return "driver never became ACTIVE: " + d.Status().State.String() })
	st.feed <- []*event.Event{{Body: []byte("x")}}
	if err := d.Stop(context.Background()); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if s := d.Status(); s.State != StateIdle || s.Events != 1 {
		t.Fatalf("after stop: %v, %d events", s.State, s.Events)
	}
	if st.count(st.closes, "out") != 1 {
		t.Fatal("sink not closed by stop")
	}
}

func TestStopNeverStartedDriver(t *testing.T) {
	d := NewDriver(build(t, newStore(), `n : seq(1) | capture("out") ;`), DriverOptions{})
	if err := d.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRollReopensSubSinkAndTagsEvents(t *testing.T) {
	st := newStore()
	f := build(t, st, `n : feed | roll(30, 5) { capture("out") } ;`)
	d := NewDriver(f, DriverOptions{})
	d.Start()
	defer func() { _ = d.Stop(context.Background()) }()
	st.feed <- []*event.Event{{Body: []byte("a")}}
	plugintest.Eventually(t, 5*time.Second, func() bool { return st.count(st.opens, "out") >= 3 },
		func() string { return fmt.Sprintf("sub-sink opened %d times", st.count(st.opens, "out")) })
	st.feed <- []*event.Event{{Body: []byte("b")}}
	plugintest.Eventually(t, 5*time.Second, func() bool { return len(st.got("out")) == 2 },
		func() string { return "second event not delivered" })
	got := st.got("out")
	t1, ok1 := got[0].Attr(RollTagAttr)
	t2, ok2 := got[1].Attr(RollTagAttr)
	if !ok1 || !ok2 || string(t1) >= string(t2) {
		t.Fatalf("roll tags %q, %q: want set and increasing across rolls", t1, t2)
	}
}

func TestRollSizeTrigger(t *testing.T) {
	st := newStore()
	f := build(t, st, `n : seq(30) | roll(100000, trigger=size(10)) { capture("out") } ;`)
	if s := runToEnd(t, f); s.State != StateIdle {
		t.Fatalf("state %v err %v", s.State, s.Err)
	}
	// 30 events of 1-2 body bytes in batches of 7: each batch of >= 10 bytes triggers a roll
	// before the next batch.
	if n := st.count(st.opens, "out"); n < 3 {
		t.Fatalf("sub-sink opened %d times; want a roll per 10 bytes", n)
	}
	tags := map[string]bool{}
	for _, e := range st.got("out") {
		v, _ := e.Attr(RollTagAttr)
		tags[string(v)] = true
	}
	if len(tags) < 3 {
		t.Fatalf("%d distinct roll tags, want >= 3", len(tags))
	}
}

func TestBuildReportsEveryErrorWithPosition(t *testing.T) {
	st := newStore()
	defs, err := spec.ParseNodes(`n : seq("-1") | [ tga("a", "b") capture("x"), capture(), roll(0) { capture("y") } ] ;`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(&plugin.BuildContext{Registry: testRegistry(st)}, defs[0])
	var got []string
	for _, e := range spec.Errors(err) {
		got = append(got, e.Error())
	}
	want := []string{
		`1:9: seq: argument count: must be 0 or more`,
		`1:19: unknown decorator "tga"; did you mean "tag"?`,
		`1:47: capture: missing argument "name"; usage: capture("name"{, failAppends, failOpens, panics, blockOpensFrom, closeErr, panicClose})`,
		`1:63: roll: argument rollmillis: must be more than 0`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestBuildRejectsBadTrigger(t *testing.T) {
	st := newStore()
	for text, want := range map[string]string{
		`n : seq(1) | roll(10, trigger=size()) { capture("x") } ;`:   "size takes one integer",
		`n : seq(1) | roll(10, trigger=sizes(5)) { capture("x") } ;`: `unknown trigger "sizes"`,
		`n : seq(1) | roll(10, every=5) { capture("x") } ;`:          `unknown keyword argument "every"`,
		`n : seq(1) | roll { capture("x") } ;`:                       "",
	} {
		defs, err := spec.ParseNodes(text)
		if err != nil {
			if want == "" {
				continue // roll without arguments is a syntax error, checked by the parser's tests
			}
			t.Fatalf("%s: %v", text, err)
		}
		_, err = Build(&plugin.BuildContext{Registry: testRegistry(st)}, defs[0])
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: error %v, want it to contain %q", text, err, want)
		}
	}
}

// heldSource holds one record until it is closed, as tail holds an unterminated last line.
type heldSource struct {
	closed chan struct{}
	once   sync.Once
	gave   bool
}

func (s *heldSource) Open(context.Context) error { return nil }
func (s *heldSource) Next(ctx context.Context) ([]*event.Event, error) {
	select {
	case <-s.closed:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if s.gave {
		return nil, io.EOF
	}
	s.gave = true
	return []*event.Event{{Body: []byte("partial last line")}}, nil
}
func (s *heldSource) Close(context.Context) error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

func TestStopDeliversWhatTheSourceReleasesOnClose(t *testing.T) {
	st := newStore()
	f := build(t, st, `n : feed | capture("out") ;`)
	f.Source = &heldSource{closed: make(chan struct{})}
	d := NewDriver(f, DriverOptions{})
	d.Start()
	plugintest.Eventually(t, 5*time.Second, func() bool { return d.Status().State == StateActive },
		func() string { return "driver never became ACTIVE" })
	if err := d.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := plugintest.Bodies(st.got("out")); !slices.Equal(got, []string{"partial last line"}) {
		t.Fatalf("delivered %q; the record released by Close must reach the sink before it closes", got)
	}
}

// TestRollCanBeReopenedAfterClose: stubbornAppend and failover close a sink and open it again.
func TestRollCanBeReopenedAfterClose(t *testing.T) {
	st := newStore()
	f := build(t, st, `n : feed | roll(100000) { capture("out") } ;`)
	ctx := context.Background()
	batch := []*event.Event{{Body: []byte("x")}}
	for round := range 3 {
		if err := f.Sink.Open(ctx); err != nil {
			t.Fatalf("round %d: open: %v", round, err)
		}
		if err := f.Sink.Append(ctx, batch); err != nil {
			t.Fatalf("round %d: append after reopening: %v", round, err)
		}
		if err := f.Sink.Close(ctx); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
	}
	if n := len(st.got("out")); n != 3 {
		t.Fatalf("delivered %d events, want 3", n)
	}
}

// TestStopIsBoundedWhileATimedRollIsStuck: the roll timer is stuck opening the next sub-sink
// (a dead disk, a dead peer). Stop with a deadline must end the flow by that deadline.
func TestStopIsBoundedWhileATimedRollIsStuck(t *testing.T) {
	st := newStore()
	f := build(t, st, `n : feed | roll(20, 5) { capture("out", blockOpensFrom=2) } ;`)
	d := NewDriver(f, DriverOptions{CloseTimeout: time.Minute})
	d.Start()
	plugintest.Eventually(t, 5*time.Second, func() bool { return st.count(st.opens, "out") >= 2 },
		func() string { return "the timer never tried to roll" })
	st.feed <- []*event.Event{{Body: []byte("x")}} // taken by Next; its Append now waits on the stuck roll
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_ = d.Stop(ctx)
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("stop took %v with a 300ms deadline", el)
	}
	select {
	case <-d.Done():
	default:
		t.Fatal("driver still running after Stop returned")
	}
}

// TestRollTimerFailuresReachTheFlow: what fails on the roll timer, a flush at close or a
// plugin panic, is returned by the next Append instead of being lost or crashing the node.
func TestRollTimerFailuresReachTheFlow(t *testing.T) {
	for _, opt := range []string{"closeErr=true", "panicClose=true"} {
		t.Run(opt, func(t *testing.T) {
			st := newStore()
			f := build(t, st, `n : feed | roll(20, 5) { capture("out", `+opt+`) } ;`)
			d := NewDriver(f, DriverOptions{})
			d.Start()
			defer func() { _ = d.Stop(context.Background()) }()
			plugintest.Eventually(t, 5*time.Second, func() bool { return st.count(st.closes, "out") >= 1 },
				func() string { return "the timer never rolled" })
			st.feed <- []*event.Event{{Body: []byte("x")}}
			plugintest.Eventually(t, 5*time.Second, func() bool { return d.Status().State == StateError },
				func() string { return "flow state " + d.Status().State.String() + ", want ERROR" })
			err := d.Status().Err
			if !strings.Contains(err.Error(), "an earlier roll failed") ||
				!strings.Contains(err.Error(), map[string]string{"closeErr=true": "flush failed",
					"panicClose=true": "exploded on close"}[opt]) {
				t.Fatalf("error %v does not carry the roll failure", err)
			}
		})
	}
}
