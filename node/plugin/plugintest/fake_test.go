package plugintest

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// fakeT records failures instead of failing the test, to check that a helper fails the test
// it is given. Its Fatal methods end the calling goroutine, as testing.T's do, so run calls
// the helper on a goroutine of its own.
type fakeT struct {
	testing.TB // nil: a method not overridden here is not expected to be called

	mu       sync.Mutex
	failures []string
	cleanups []func()
}

func (f *fakeT) Helper() {}

func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, fmt.Sprintf(format, args...))
}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

func (f *fakeT) Fatal(args ...any) {
	f.Errorf("%s", fmt.Sprint(args...))
	runtime.Goexit()
}

func (f *fakeT) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// run calls fn with a fakeT on a goroutine of its own, then runs the cleanups fn registered,
// last first, and returns the failures joined by "; ", "" if there were none.
func run(fn func(t testing.TB)) string {
	f := &fakeT{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	return strings.Join(f.failures, "; ")
}

// registerFakes adds the components the tests of this package build from spec text:
//
//   - source batches("a b", "c", held=false, ignoreCtx=false): one batch per argument, its
//     bodies split at spaces ("" is an empty batch). A held source hands nothing out before
//     Close: Next waits for its ctx or for Close, and after Close it gives the batches. With
//     ignoreCtx it gives a batch even when its ctx is done, which the Source contract forbids.
//   - sink collect(failOpens=0): a Capture.
//   - decorator prefix("p"): puts p before every body.
//   - format lines: every body on a line of its own.
func registerFakes(r *plugin.Registry) {
	r.RegisterSource(spec.Signature{Name: "batches", Params: []spec.Param{
		{Name: "batch", Kind: spec.ParamString, Required: true, Variadic: true},
		{Name: "held", Kind: spec.ParamBool, KeywordOnly: true},
		{Name: "ignoreCtx", Kind: spec.ParamBool, KeywordOnly: true},
	}}, "gives the batches it is given", buildBatches)
	r.RegisterSink(spec.Signature{Name: "collect", Params: []spec.Param{
		{Name: "failOpens", Kind: spec.ParamInt, KeywordOnly: true},
	}}, "records what it receives", func(_ *plugin.BuildContext, args *spec.Args) (plugin.Sink, error) {
		return &Capture{FailOpens: int(args.Int("failOpens", 0))}, nil
	})
	r.RegisterDecorator(spec.Signature{Name: "prefix", Params: []spec.Param{
		{Name: "p", Kind: spec.ParamString, Required: true},
	}}, "puts a prefix before every body", func(_ *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
		return &prefixSink{Sink: next, p: args.String("p", "")}, nil
	})
	r.RegisterFormat(spec.Signature{Name: "lines"}, "every body on a line",
		func(*plugin.BuildContext, *spec.Args) (plugin.Format, error) { return linesFormat{}, nil })
}

func buildBatches(bc *plugin.BuildContext, args *spec.Args) (plugin.Source, error) {
	s := &batchSource{
		held:      args.Bool("held", false),
		ignoreCtx: args.Bool("ignoreCtx", false),
		closed:    make(chan struct{}),
		eventsIn:  bc.Counters().Counter("batches.events_in"),
	}
	for _, b := range args.Strings("batch") {
		var batch []*event.Event
		for _, body := range strings.Fields(b) {
			batch = append(batch, &event.Event{Body: []byte(body)})
		}
		s.batches = append(s.batches, batch)
	}
	return s, nil
}

// batchSource is the source batches.
type batchSource struct {
	held, ignoreCtx bool
	batches         [][]*event.Event
	closed          chan struct{}
	closeOnce       sync.Once
	eventsIn        *metrics.Counter
}

func (s *batchSource) Open(context.Context) error { return nil }

func (s *batchSource) Next(ctx context.Context) ([]*event.Event, error) {
	if !s.ignoreCtx && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if s.held {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.closed:
		}
	}
	if len(s.batches) == 0 {
		return nil, io.EOF
	}
	b := s.batches[0]
	s.batches = s.batches[1:]
	s.eventsIn.Add(int64(len(b)))
	return b, nil
}

func (s *batchSource) Close(context.Context) error {
	s.closeOnce.Do(func() { close(s.closed) })
	return nil
}

// isClosed reports whether Close was called.
func (s *batchSource) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// prefixSink is the decorator prefix.
type prefixSink struct {
	plugin.Sink
	p string
}

func (s *prefixSink) Append(ctx context.Context, batch []*event.Event) error {
	out := make([]*event.Event, len(batch))
	for i, e := range batch {
		d := e.Derive()
		d.Body = append([]byte(s.p), e.Body...)
		out[i] = d
	}
	return s.Sink.Append(ctx, out)
}

// linesFormat is the format lines.
type linesFormat struct{}

func (linesFormat) NewEncoder(w io.Writer) (plugin.Encoder, error) { return &linesEncoder{w: w}, nil }

type linesEncoder struct{ w io.Writer }

func (e *linesEncoder) Encode(ev *event.Event) error {
	_, err := fmt.Fprintf(e.w, "%s\n", ev.Body)
	return err
}

func (e *linesEncoder) Flush() error { return nil }
func (e *linesEncoder) Close() error { return nil }
