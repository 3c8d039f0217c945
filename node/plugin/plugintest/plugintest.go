// Package plugintest has what tests of sources, sinks, decorators, formats and flows share: an
// Env that builds components from spec text as a config names them, a sink that records what
// it receives, ways to read a source (to its end, through a stop, on another goroutine), a
// buffer for output written on one goroutine and read on another, and polling until a
// condition holds (tests never sleep to wait for a state).
package plugintest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flumego/flume/internal/testwait"
	"github.com/flumego/flume/node/event"
)

// Eventually polls cond until it holds, failing the test with msg() if d passes first. msg may
// be nil. It is internal/testwait's For, which every package's tests wait with.
func Eventually(t testing.TB, d time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	testwait.For(t, d, cond, msg)
}

// Call is a function running on a goroutine of its own, for tests of what ends a call that
// blocks.
type Call[T any] struct {
	done chan T
}

// Go runs f on a goroutine of its own. The test owns the goroutine: it Waits for f, or ends it
// some other way (goleak reports a goroutine left running).
func Go[T any](f func() T) *Call[T] {
	c := &Call[T]{done: make(chan T, 1)}
	go func() { c.done <- f() }()
	return c
}

// Wait returns what f returned, failing the test if f has not returned within d.
func (c *Call[T]) Wait(t testing.TB, d time.Duration) T {
	t.Helper()
	select {
	case v := <-c.done:
		return v
	case <-time.After(d):
		t.Fatalf("call did not return within %v", d)
		var zero T
		return zero
	}
}

// Buffer is a bytes.Buffer that one goroutine may write while another reads.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Bodies returns the bodies of evs as strings.
func Bodies(evs []*event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = string(e.Body)
	}
	return out
}

// Short joins s with "|" for a failure message, keeping the first and last six of a longer
// list so that a message about thousands of events stays readable.
func Short(s []string) string {
	if len(s) > 12 {
		return strings.Join(s[:6], "|") + "|...|" + strings.Join(s[len(s)-6:], "|")
	}
	return strings.Join(s, "|")
}

// Capture is a sink that records clones of what it receives and counts its calls. It is safe
// for the flow writing and the test reading at once.
type Capture struct {
	mu      sync.Mutex
	events  []*event.Event
	opens   int
	closes  int
	appends int
	// FailAppends and FailOpens make that many calls fail first; -1 makes every call fail.
	FailAppends, FailOpens int
}

// Open counts the open, failing it if FailOpens says so.
func (c *Capture) Open(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opens++
	if refuse(&c.FailOpens) {
		return fmt.Errorf("capture: open refused")
	}
	return nil
}

// Append records clones of batch, or fails if FailAppends says so.
func (c *Capture) Append(_ context.Context, batch []*event.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.appends++
	if refuse(&c.FailAppends) {
		return fmt.Errorf("capture: append refused")
	}
	for _, e := range batch {
		c.events = append(c.events, e.Clone())
	}
	return nil
}

// Close counts the close.
func (c *Capture) Close(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closes++
	return nil
}

// Events returns what was recorded.
func (c *Capture) Events() []*event.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*event.Event(nil), c.events...)
}

// Counts returns the number of opens, appends and closes so far.
func (c *Capture) Counts() (opens, appends, closes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opens, c.appends, c.closes
}

// refuse counts a call against a Fail field of Capture and reports whether the call fails:
// while the field is positive it counts down; a negative one refuses every call.
func refuse(n *int) bool {
	if *n > 0 {
		*n--
		return true
	}
	return *n < 0
}
