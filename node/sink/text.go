package sink

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

const (
	// textBufferSize is the write buffer of the text sink. A full buffer is written out
	// during Append; the rest reaches the file within textFlushInterval.
	textBufferSize = 256 << 10
	// textFlushInterval bounds how long an appended event stays in the buffer before it
	// reaches the file, so that a reader of the file sees it while the flow runs, as classic
	// Flume's text sink wrote as events came, even when no further events arrive.
	textFlushInterval = time.Second
)

var textSig = spec.Signature{Name: "text", Params: []spec.Param{
	{Name: "file", Kind: spec.ParamString, Required: true},
	{Name: "format", Kind: spec.ParamFunc, Default: "raw"},
}}

// textSink is `text("file"[, format])`: it writes events to file, replacing what the file held,
// in the format (the registry's default, raw, when none is given).
//
// Writes are buffered so that a fast flow costs one write call per buffer rather than per
// event. What Append wrote reaches the file (the operating system, not the disk) within
// textFlushInterval: a goroutine started in Open flushes the encoder and the buffer when
// something was appended since its last flush. Close stops and waits for that goroutine, then
// flushes, fsyncs and closes, so what was appended is durable when Close returns.
type textSink struct {
	path   string
	format plugin.Format
	counts counts

	// mu guards the open file between Append, Close and the flusher.
	mu    sync.Mutex
	f     *os.File
	bw    *bufio.Writer
	enc   plugin.Encoder
	dirty bool  // appended since the last flush
	err   error // the flusher's failure, returned by the next Append or Close

	stop chan struct{}  // closed by Close to end the flusher
	done sync.WaitGroup // the flusher
}

func buildText(bc *plugin.BuildContext, args *spec.Args) (plugin.Sink, error) {
	path := args.String("file", "")
	if path == "" {
		return nil, args.Errorf("file", "empty file name")
	}
	f, err := buildFormat(bc, args, "")
	if err != nil {
		return nil, err
	}
	return &textSink{path: path, format: f, counts: newCounts(bc, "text")}, nil
}

// Open creates or truncates the file and starts the flusher. A path that cannot be written is
// an error naming it.
func (s *textSink) Open(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		return nil
	}
	f, err := os.Create(s.path)
	if err != nil {
		return fmt.Errorf("text sink: %w", err)
	}
	bw := bufio.NewWriterSize(f, textBufferSize)
	enc, err := s.format.NewEncoder(bw)
	if err != nil {
		f.Close()
		return fmt.Errorf("text sink %q: %w", s.path, err)
	}
	s.f, s.bw, s.enc, s.dirty, s.err = f, bw, enc, false, nil
	s.stop = make(chan struct{})
	s.done.Add(1)
	go s.flusher(s.stop)
	return nil
}

// flusher writes out what was appended every textFlushInterval until stop is closed.
func (s *textSink) flusher(stop <-chan struct{}) {
	defer s.done.Done()
	t := time.NewTicker(textFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.mu.Lock()
			if s.dirty && s.err == nil {
				s.err = s.flush()
			}
			s.mu.Unlock()
		}
	}
}

// flush writes the encoder's and the buffer's content to the file. s.mu is held.
func (s *textSink) flush() error {
	s.dirty = false
	if err := errors.Join(s.enc.Flush(), s.bw.Flush()); err != nil {
		return fmt.Errorf("write %q: %w", s.path, err)
	}
	return nil
}

// Append encodes the batch into the buffer. It returns a failure of the background flush, if
// one happened since the last call.
func (s *textSink) Append(_ context.Context, batch []*event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.enc == nil {
		return ErrNotOpen
	}
	if s.err != nil {
		return s.err
	}
	s.dirty = true
	for _, e := range batch {
		if err := s.enc.Encode(e); err != nil {
			return fmt.Errorf("write %q: %w", s.path, err)
		}
	}
	s.counts.add(batch)
	return nil
}

// Close stops the flusher, flushes the encoder and the buffer, fsyncs and closes the file.
// Safe without Open and twice.
func (s *textSink) Close(context.Context) error {
	s.mu.Lock()
	if s.f == nil {
		s.mu.Unlock()
		return nil
	}
	close(s.stop)
	s.mu.Unlock()
	// The flusher takes mu to flush: wait for it outside the lock.
	s.done.Wait()

	s.mu.Lock()
	defer s.mu.Unlock()
	err := errors.Join(s.err, s.enc.Close(), s.bw.Flush(), s.f.Sync(), s.f.Close())
	s.f, s.bw, s.enc, s.stop, s.err = nil, nil, nil, nil, nil
	if err != nil {
		return fmt.Errorf("close %q: %w", s.path, err)
	}
	return nil
}
