package store

import (
	"fmt"
	"io"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
)

// rawFormat writes each body and a newline: the format of a Writer given none. It is the
// same bytes as node/format's raw, kept here so the Writer needs no registry.
type rawFormat struct{}

func (rawFormat) NewEncoder(w io.Writer) (plugin.Encoder, error) { return &rawEncoder{w: w}, nil }

type rawEncoder struct {
	w   io.Writer
	buf []byte
}

func (r *rawEncoder) Encode(e *event.Event) error {
	r.buf = append(append(r.buf[:0], e.Body...), '\n')
	_, err := r.w.Write(r.buf)
	if cap(r.buf) > maxKeptBuffer {
		r.buf = nil
	}
	return err
}

func (*rawEncoder) Flush() error { return nil }
func (*rawEncoder) Close() error { return nil }

// countWriter counts what is written to it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// probeHeader finds out whether f starts a stream with a header (a container file does):
// such a stream cannot be resumed mid-file by a fresh encoder, and a file holding the header
// alone holds nothing. It returns the header's length.
func probeHeader(f plugin.Format) (bool, int64, error) {
	var c countWriter
	enc, err := f.NewEncoder(&c)
	if err != nil {
		return false, 0, fmt.Errorf("output format: %w", err)
	}
	if err := enc.Flush(); err != nil {
		return false, 0, fmt.Errorf("output format: %w", err)
	}
	n := c.n
	if err := enc.Close(); err != nil {
		return false, 0, fmt.Errorf("output format: %w", err)
	}
	return n > 0, n, nil
}
