package source

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
)

func TestStdinReadsLinesUntilEOF(t *testing.T) {
	e := newEnv(t, nil)
	e.bc.Stdin = strings.NewReader("a\nb\r\n\nc")
	got := bodies(drain(t, e.open(t, "stdin")))
	if want := []string{"a", "b", "", "c"}; !equalStrings(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// nextAsync runs Next on another goroutine.
func nextAsync(ctx context.Context, s interface {
	Next(context.Context) ([]*event.Event, error)
}) <-chan nextResult {
	ch := make(chan nextResult, 1)
	go func() {
		evs, err := s.Next(ctx)
		var b []string
		for _, e := range evs {
			b = append(b, string(e.Body))
		}
		ch <- nextResult{b, err}
	}()
	return ch
}

type nextResult struct {
	bodies []string
	err    error
}

func recv(t *testing.T, ch <-chan nextResult) nextResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("Next did not return")
		return nextResult{}
	}
}

func TestStdinFollowsAPipe(t *testing.T) {
	e := newEnv(t, nil)
	pr, pw := io.Pipe()
	e.bc.Stdin = pr
	s := e.open(t, "stdin")
	ctx := context.Background()

	ch := nextAsync(ctx, s)
	if _, err := pw.Write([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, ch); r.err != nil || !equalStrings(r.bodies, []string{"one"}) {
		t.Fatalf("first Next = %q, %v", r.bodies, r.err)
	}

	// A line split across writes is one event.
	ch = nextAsync(ctx, s)
	if _, err := pw.Write([]byte("tw")); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write([]byte("o\n")); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, ch); r.err != nil || !equalStrings(r.bodies, []string{"two"}) {
		t.Fatalf("second Next = %q, %v", r.bodies, r.err)
	}

	// A cancelled Next leaves its read pending; the next Next collects it.
	cctx, cancel := context.WithCancel(ctx)
	ch = nextAsync(cctx, s)
	cancel()
	if r := recv(t, ch); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled Next = %v", r.err)
	}
	ch = nextAsync(ctx, s)
	if _, err := pw.Write([]byte("three\n")); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, ch); r.err != nil || !equalStrings(r.bodies, []string{"three"}) {
		t.Fatalf("Next after cancel = %q, %v", r.bodies, r.err)
	}

	pw.Close()
	if r := recv(t, nextAsync(ctx, s)); !errors.Is(r.err, io.EOF) {
		t.Fatalf("Next at EOF = %q, %v", r.bodies, r.err)
	}
}

func TestStdinCloseUnblocksNext(t *testing.T) {
	e := newEnv(t, nil)
	pr, pw := io.Pipe()
	defer pw.Close()
	e.bc.Stdin = pr
	s := e.open(t, "stdin")
	ch := nextAsync(context.Background(), s)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, ch); !errors.Is(r.err, io.EOF) {
		t.Fatalf("Next after Close = %q, %v; want io.EOF", r.bodies, r.err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestStdinCloseWithoutOpen(t *testing.T) {
	s, err := newEnv(t, nil).build(t, "stdin")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next = %v, want ErrClosed", err)
	}
}
