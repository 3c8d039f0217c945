package flow

import (
	"context"
	"fmt"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
)

// fanOut is `[ a, b, ... ]`: every batch goes to every branch. Events are read-only to sinks,
// so the branches share them without copies. Every branch is attempted even when one fails, as
// classic FanOutSink did; the error names each branch that failed.
type fanOut struct {
	branches []plugin.Sink
	opened   []bool
}

func newFanOut(branches []plugin.Sink) *fanOut {
	return &fanOut{branches: branches, opened: make([]bool, len(branches))}
}

// Open opens every branch. If one fails, the ones already open are closed again.
func (f *fanOut) Open(ctx context.Context) error {
	for i, b := range f.branches {
		if err := b.Open(ctx); err != nil {
			_ = f.Close(ctx)
			return fmt.Errorf("fan-out branch %d: open: %w", i, err)
		}
		f.opened[i] = true
	}
	return nil
}

// Append appends batch to every branch.
func (f *fanOut) Append(ctx context.Context, batch []*event.Event) error {
	var errs []error
	for i, b := range f.branches {
		if err := b.Append(ctx, batch); err != nil {
			errs = append(errs, fmt.Errorf("fan-out branch %d: %w", i, err))
		}
	}
	return errorsJoin(errs)
}

// Close closes every open branch.
func (f *fanOut) Close(ctx context.Context) error {
	var errs []error
	for i, b := range f.branches {
		if !f.opened[i] {
			continue
		}
		f.opened[i] = false
		if err := b.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("fan-out branch %d: close: %w", i, err))
		}
	}
	return errorsJoin(errs)
}

// parts returns the branches, for the flow's condition.
func (f *fanOut) parts() []plugin.Sink { return f.branches }
