package sink

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// textBufferSize is the write buffer of the text sink: writes reach the file when it is full
// and at Close.
const textBufferSize = 256 << 10

var textSig = spec.Signature{Name: "text", Params: []spec.Param{
	{Name: "file", Kind: spec.ParamString, Required: true},
	{Name: "format", Kind: spec.ParamFunc, Default: "raw"},
}}

// textSink is `text("file"[, format])`: it writes events to file, replacing what the file held,
// in the format (the registry's default, raw, when none is given). Writes are buffered; Close
// flushes, fsyncs and closes, so what was appended is durable when Close returns.
type textSink struct {
	path   string
	format plugin.Format
	counts counts

	f   *os.File
	bw  *bufio.Writer
	enc plugin.Encoder
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

// Open creates or truncates the file. A path that cannot be written is an error naming it.
func (s *textSink) Open(context.Context) error {
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
	s.f, s.bw, s.enc = f, bw, enc
	return nil
}

// Append encodes the batch into the buffer.
func (s *textSink) Append(_ context.Context, batch []*event.Event) error {
	if s.enc == nil {
		return ErrNotOpen
	}
	for _, e := range batch {
		if err := s.enc.Encode(e); err != nil {
			return fmt.Errorf("write %q: %w", s.path, err)
		}
	}
	s.counts.add(batch)
	return nil
}

// Close flushes the encoder and the buffer, fsyncs and closes the file. Safe without Open and
// twice.
func (s *textSink) Close(context.Context) error {
	if s.f == nil {
		return nil
	}
	err := errors.Join(s.enc.Close(), s.bw.Flush(), s.f.Sync(), s.f.Close())
	s.f, s.bw, s.enc = nil, nil, nil
	if err != nil {
		return fmt.Errorf("close %q: %w", s.path, err)
	}
	return nil
}
