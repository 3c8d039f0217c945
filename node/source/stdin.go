package source

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/source/internal/record"
	"github.com/flumego/flume/node/spec"
)

var stdinSig = spec.Signature{Name: "stdin", Params: []spec.Param{record.OversizeParam}}

// stdinSource is `stdin`: one event per line of the node's standard input (bc.In()), until EOF.
//
// A read from a pipe or a terminal blocks and cannot be cancelled, so reads run on a helper
// goroutine, one at a time, into the free end of the buffer; Next waits for the result, ctx,
// or a Close from another goroutine. A read left pending by a cancelled Next is collected by
// the next Next.
//
// Close closes the input when it can (an io.Closer other than os.Stdin) and waits for the
// helper. Next then treats the input as ended: it returns the complete lines buffered (with
// those of a read that completed at Close), then the held partial last line, then io.EOF.
// The process's own standard input is not closed: a read of it in progress when the source
// closes ends at the next input or EOF, and what it reads is dropped.
type stdinSource struct {
	in     io.Reader
	host   string
	max    int
	policy event.OversizePolicy
	ctr    record.Counters

	buf   *record.Buffer
	batch *record.Batch
	eof   bool

	reqs  chan []byte
	resps chan readResult
	done  chan struct{} // closed when the helper returns

	mu      sync.Mutex // orders sending a read request against Close
	closed  chan struct{}
	reading bool // a request is out; guarded by mu
	opened  bool
	once    sync.Once
}

type readResult struct {
	n   int
	err error
}

func buildStdin(bc *plugin.BuildContext, args *spec.Args) (plugin.Source, error) {
	policy, err := record.Oversize(args)
	if err != nil {
		return nil, err
	}
	return &stdinSource{
		in:     bc.In(),
		host:   event.Hostname(),
		max:    bc.MaxEventSize(),
		policy: policy,
		ctr:    record.NewCounters(bc.Counters().Sub("stdin")),
		closed: make(chan struct{}),
	}, nil
}

// Open starts the reading helper.
func (s *stdinSource) Open(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return ErrClosed
	default:
	}
	if s.opened {
		return nil
	}
	s.opened = true
	s.buf = record.NewBuffer(record.Lines(), s.max, s.policy)
	s.batch = record.NewBatch(record.MaxBatch, s.host)
	s.reqs = make(chan []byte, 1)
	s.resps = make(chan readResult, 1)
	s.done = make(chan struct{})
	go s.reader()
	return nil
}

// reader serves read requests until Close.
func (s *stdinSource) reader() {
	defer close(s.done)
	for {
		select {
		case <-s.closed:
			return
		case p := <-s.reqs:
			n, err := s.in.Read(p)
			s.resps <- readResult{n, err} // buffered: at most one request is out
		}
	}
}

// Next returns the buffered lines, waiting for input when there are none. It returns ctx.Err()
// as soon as ctx is done, keeping what is buffered and any read in progress for a later call.
func (s *stdinSource) Next(ctx context.Context) ([]*event.Event, error) {
	if !s.opened {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b := s.batch
	b.Reset()
	var now int64
	for !b.Full() {
		if rec, ok := s.buf.Next(); ok {
			if now == 0 {
				now = time.Now().UnixNano() // the read that gave the lines is done
			}
			b.Add(trimCR(rec), now)
			continue
		}
		if b.Len() > 0 {
			break
		}
		if s.eof {
			if rec, ok := s.buf.Remainder(); ok {
				b.Add(trimCR(rec), time.Now().UnixNano())
			}
			break
		}
		if err := s.read(ctx); err != nil {
			return nil, err
		}
	}
	s.ctr.Count(b, s.buf)
	if b.Len() == 0 {
		return nil, io.EOF
	}
	return b.Events(), nil
}

// read gets one more read into the buffer. Once the source is closed it collects a read that
// completed and marks the input ended. It returns ctx's error when ctx ends first, or the
// input's error.
func (s *stdinSource) read(ctx context.Context) error {
	s.mu.Lock()
	select {
	case <-s.closed:
		s.mu.Unlock()
		s.collectAtClose()
		return nil
	default:
	}
	if !s.reading {
		s.reading = true
		s.reqs <- s.buf.Space()
	}
	s.mu.Unlock()
	select {
	case r := <-s.resps:
		s.mu.Lock()
		s.reading = false
		s.mu.Unlock()
		s.buf.Wrote(r.n)
		if r.err == io.EOF {
			s.eof = true
		} else if r.err != nil {
			return fmt.Errorf("read standard input: %w", r.err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		s.collectAtClose()
		return nil
	}
}

// collectAtClose takes the result of a read that completed before the helper stopped, and
// marks the input ended: what is buffered is all there will be. The error of that read (most
// likely the input closed under it) is of no interest now. It acts once: after it, Next
// consumes the buffer, and a read that completes later could only garble it.
func (s *stdinSource) collectAtClose() {
	if s.eof {
		return
	}
	s.mu.Lock()
	reading := s.reading
	s.mu.Unlock()
	if reading {
		select {
		case r := <-s.resps:
			s.mu.Lock()
			s.reading = false
			s.mu.Unlock()
			s.buf.Wrote(r.n)
		default:
			// Still blocked in a read of os.Stdin: what it reads is dropped.
		}
	}
	s.eof = true
}

// Close stops the helper; see the type's comment for a read of os.Stdin in progress.
func (s *stdinSource) Close(context.Context) error {
	s.once.Do(func() {
		s.mu.Lock()
		close(s.closed)
		opened, reading := s.opened, s.reading
		s.mu.Unlock()
		if !opened {
			return
		}
		c, closable := s.in.(io.Closer)
		closable = closable && s.in != io.Reader(os.Stdin)
		if closable {
			_ = c.Close() // unblocks the read; its error is of no interest now
		}
		if closable || !reading {
			<-s.done
		}
	})
	return nil
}
