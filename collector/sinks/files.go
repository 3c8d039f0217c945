package sinks

import (
	"context"
	"errors"
	"time"

	"github.com/flumego/flume/collector/store"
	"github.com/flumego/flume/commitpoint"
	"github.com/flumego/flume/node/event"
)

// files is how a sink's batches reach its open Writer and its dead letters: plainly
// (plainFiles) or through the commit protocol (committer). Append is called for one batch at a
// time; Roll on the sink's timer; Halt, then Close, when the sink closes.
type files interface {
	// Append delivers one batch, setting aside in the dead letters, as part of it, the events
	// the storage refuses by their names. On error nothing of the batch is in the files.
	Append(ctx context.Context, batch []*event.Event) error
	// Roll finalizes every open file, the dead letters' too.
	Roll() error
	// Tidy finalizes the files done taking events (full or idle) whose data is safe.
	Tidy() error
	// Halt makes work in progress that waits on others (a commit) give up: the sink closes.
	Halt()
	// Close finalizes what it can and closes the Writer and the dead letters.
	Close(ctx context.Context) error
	// Condition says why batches are refused, if they are (plugin.Conditioner).
	Condition() string
}

// delivery makes a sink's files each time it opens: plain, or the commit protocol.
type delivery interface {
	// open returns how much of each file a crash left under root is to be kept (nil: all).
	open(ctx context.Context, root string) (keep func(file string) int64, err error)
	// start returns the files over the opened Writer and dead letters; recovered names the
	// files open's keep helped recover.
	start(w *store.Writer, dead *DeadLetter, recovered []string) files
	// Condition says why batches are refused, if they are, open or not.
	Condition() string
}

var (
	_ files    = (*plainFiles)(nil)
	_ files    = (*committer)(nil)
	_ delivery = (*plain)(nil)
	_ delivery = (*committer)(nil)
)

// plain is the delivery of a sink without commit point: leftovers are kept whole, and writes
// go straight to the Writer.
type plain struct{ health Health }

func (*plain) open(context.Context, string) (func(string) int64, error) { return nil, nil }

func (p *plain) start(w *store.Writer, dead *DeadLetter, _ []string) files {
	return &plainFiles{w: w, dead: dead, health: &p.health}
}

// Condition says why writes fail, if they do.
func (p *plain) Condition() string { return p.health.Note() }

// plainFiles writes batches straight to the Writer: each Write settles what it wrote, so a
// file may be finalized as soon as it is written.
type plainFiles struct {
	w      *store.Writer
	dead   *DeadLetter
	health *Health // its delivery's
}

// Append writes batch, setting aside in the dead letters, durably, the events the storage
// refuses by their names.
func (p *plainFiles) Append(ctx context.Context, batch []*event.Event) error {
	spans, skipped, err := p.w.WriteOrSkip(batch)
	if err == nil && len(skipped) > 0 {
		var dead []store.Span
		if dead, err = p.dead.Write(batch, skipped, commitpoint.ChunkFrom(ctx)); err == nil {
			err = p.dead.Sync()
		}
		if err != nil {
			// Nothing of the batch stays: it is sent again, whole.
			err = errors.Join(err, p.dead.Rollback(dead), p.w.Rollback(spans))
		} else {
			p.dead.Counted(len(skipped), skipped[len(skipped)-1].Err)
		}
	}
	if !errors.Is(err, store.ErrClosed) {
		p.health.Set(err)
	}
	return err
}

// Roll finalizes every open file.
func (p *plainFiles) Roll() error {
	_, err := p.w.Roll()
	_, derr := p.dead.Roll()
	return errors.Join(err, derr)
}

// Tidy finalizes full and idle files.
func (p *plainFiles) Tidy() error {
	_, err := p.w.Tidy(time.Now())
	return err
}

// Halt does nothing: nothing waits on others.
func (p *plainFiles) Halt() {}

// Close finalizes every file and closes the Writer.
func (p *plainFiles) Close(context.Context) error {
	_, err := p.w.Close()
	_, derr := p.dead.Close()
	return errors.Join(err, derr)
}

// Condition says why writes fail, if they do.
func (p *plainFiles) Condition() string { return p.health.Note() }
