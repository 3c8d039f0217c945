package sink

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

var consoleSig = spec.Signature{Name: "console", Params: []spec.Param{
	{Name: "format", Kind: spec.ParamFunc, Default: "debug"},
}}

// consoleSink is `console[(format)]`: it writes events to the node's standard output
// (bc.Out()) in the format, debug by default, and flushes after each batch so that what was
// appended is on the console when Append returns.
type consoleSink struct {
	out    io.Writer
	format plugin.Format
	counts counts

	bw  *bufio.Writer
	enc plugin.Encoder
}

func buildConsole(bc *plugin.BuildContext, args *spec.Args) (plugin.Sink, error) {
	f, err := buildFormat(bc, args, "debug")
	if err != nil {
		return nil, err
	}
	return &consoleSink{out: bc.Out(), format: f, counts: newCounts(bc, "console")}, nil
}

// Open makes the encoder.
func (s *consoleSink) Open(context.Context) error {
	if s.enc != nil {
		return nil
	}
	bw := bufio.NewWriter(s.out)
	enc, err := s.format.NewEncoder(bw)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	s.bw, s.enc = bw, enc
	return nil
}

// Append writes the batch and flushes it.
func (s *consoleSink) Append(_ context.Context, batch []*event.Event) error {
	if s.enc == nil {
		return ErrNotOpen
	}
	for _, e := range batch {
		if err := s.enc.Encode(e); err != nil {
			return fmt.Errorf("console: %w", err)
		}
	}
	if err := s.enc.Flush(); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	if err := s.bw.Flush(); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	s.counts.add(batch)
	return nil
}

// Close ends the encoder's stream and flushes. The standard output stays open.
func (s *consoleSink) Close(context.Context) error {
	if s.enc == nil {
		return nil
	}
	err := errors.Join(s.enc.Close(), s.bw.Flush())
	s.enc, s.bw = nil, nil
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	return nil
}
