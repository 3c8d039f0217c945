package source

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

var (
	// ErrFail is the error of the fail source: it fails on purpose (the master puts it where
	// a source cannot be placed yet).
	ErrFail = errors.New("fail")
	// ErrClosed is returned by Next of a source that has not been opened or was closed
	// before it was opened.
	ErrClosed = errors.New("source not open")
)

var nullSig = spec.Signature{Name: "null"}

// nullSource is `null`: it has nothing to give.
type nullSource struct{}

func buildNull(*plugin.BuildContext, *spec.Args) (plugin.Source, error) { return nullSource{}, nil }

func (nullSource) Open(context.Context) error                   { return nil }
func (nullSource) Next(context.Context) ([]*event.Event, error) { return nil, io.EOF }
func (nullSource) Close(context.Context) error                  { return nil }

var failSig = spec.Signature{Name: "fail", Params: []spec.Param{{Name: "msg", Kind: spec.ParamString}}}

// failSource is `fail(["msg"])`: Open and Next return the message as an error.
type failSource struct{ err error }

func buildFail(_ *plugin.BuildContext, args *spec.Args) (plugin.Source, error) {
	err := ErrFail
	if msg := args.String("msg", ""); msg != "" {
		err = fmt.Errorf("%w: %s", ErrFail, msg)
	}
	return failSource{err: plugin.Permanent(err)}, nil
}

func (s failSource) Open(context.Context) error                   { return s.err }
func (s failSource) Next(context.Context) ([]*event.Event, error) { return nil, s.err }
func (failSource) Close(context.Context) error                    { return nil }
