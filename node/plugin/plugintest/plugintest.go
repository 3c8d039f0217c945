// Package plugintest has what tests of sources, sinks, decorators and flows share: a sink that
// records what it receives, a way to read a source to its end, a buffer for output written on
// one goroutine and read on another, and polling until a condition holds (tests never sleep to
// wait for a state).
package plugintest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
)

// Eventually polls cond until it holds, failing the test with msg() if d passes first. msg may
// be nil.
func Eventually(t testing.TB, d time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			m := "condition never held"
			if msg != nil {
				m = msg()
			}
			t.Fatalf("timed out after %v: %s", d, m)
		}
		time.Sleep(5 * time.Millisecond)
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

// Source is the part of plugin.Source that Drain needs.
type Source interface {
	Next(ctx context.Context) ([]*event.Event, error)
}

// Drain calls Next until io.EOF and returns clones of every event, failing the test on any
// other error or if the source takes longer than d.
func Drain(t testing.TB, s Source, d time.Duration) []*event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out []*event.Event
	for {
		batch, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("next after %d events: %v", len(out), err)
		}
		for _, e := range batch {
			out = append(out, e.Clone())
		}
	}
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
	if c.FailOpens != 0 {
		c.FailOpens--
		return fmt.Errorf("capture: open refused")
	}
	return nil
}

// Append records clones of batch, or fails if FailAppends says so.
func (c *Capture) Append(_ context.Context, batch []*event.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.appends++
	if c.FailAppends != 0 {
		c.FailAppends--
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
