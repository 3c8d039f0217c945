package source

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/plugin/plugintest"
)

func TestStdinReadsLinesUntilEOF(t *testing.T) {
	e := newEnv(nil)
	e.Stdin = strings.NewReader("a\nb\r\n\nc")
	got := plugintest.Bodies(drain(t, e.OpenSource(t, "stdin")))
	if want := []string{"a", "b", "", "c"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestStdinFollowsAPipe(t *testing.T) {
	e := newEnv(nil)
	pr, pw := io.Pipe()
	e.Stdin = pr
	s := e.OpenSource(t, "stdin")
	ctx := context.Background()

	next := plugintest.GoNext(ctx, s)
	if _, err := pw.Write([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	if r := next.Wait(t, 10*time.Second); r.Err != nil || !slices.Equal(r.Bodies, []string{"one"}) {
		t.Fatalf("first Next = %q, %v", r.Bodies, r.Err)
	}

	// A line split across writes is one event.
	next = plugintest.GoNext(ctx, s)
	if _, err := pw.Write([]byte("tw")); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write([]byte("o\n")); err != nil {
		t.Fatal(err)
	}
	if r := next.Wait(t, 10*time.Second); r.Err != nil || !slices.Equal(r.Bodies, []string{"two"}) {
		t.Fatalf("second Next = %q, %v", r.Bodies, r.Err)
	}

	// A cancelled Next leaves its read pending; the next Next collects it.
	cctx, cancel := context.WithCancel(ctx)
	next = plugintest.GoNext(cctx, s)
	cancel()
	if r := next.Wait(t, 10*time.Second); !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("cancelled Next = %v", r.Err)
	}
	next = plugintest.GoNext(ctx, s)
	if _, err := pw.Write([]byte("three\n")); err != nil {
		t.Fatal(err)
	}
	if r := next.Wait(t, 10*time.Second); r.Err != nil || !slices.Equal(r.Bodies, []string{"three"}) {
		t.Fatalf("Next after cancel = %q, %v", r.Bodies, r.Err)
	}

	pw.Close()
	if r := plugintest.GoNext(ctx, s).Wait(t, 10*time.Second); !errors.Is(r.Err, io.EOF) {
		t.Fatalf("Next at EOF = %q, %v", r.Bodies, r.Err)
	}
}

func TestStdinCloseUnblocksNext(t *testing.T) {
	e := newEnv(nil)
	pr, pw := io.Pipe()
	defer pw.Close()
	e.Stdin = pr
	s := e.OpenSource(t, "stdin")
	next := plugintest.GoNext(context.Background(), s)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := next.Wait(t, 10*time.Second); !errors.Is(r.Err, io.EOF) {
		t.Fatalf("Next after Close = %q, %v; want io.EOF", r.Bodies, r.Err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestStdinCloseWithoutOpen(t *testing.T) {
	s, err := newEnv(nil).BuildSource(t, "stdin")
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
